package bench

import (
	"context"
	"fmt"
	"io"
)

// RunQueries is the queries scenario: the point lookup and area (radius)
// query cases of the geo scenario over HTTP, closed loop and open loop at a
// fixed rate, next to the trivial handler on the same HTTP stack (the
// ceiling), without the Redis reference and the update-while-query cases
// (RunGeo has them). cfg is a GeoConfig; RedisServer and UpdateRate are
// overridden.
func RunQueries(ctx context.Context, cfg GeoConfig) (GeoResult, error) {
	cfg.RedisServer = "-"
	cfg.UpdateRate = -1
	res, err := RunGeo(ctx, cfg)
	res.Scenario = "queries"
	return res, err
}

// WriteQueriesTable writes the queries scenario's result: a title line,
// then the geo scenario's table of its cases.
func WriteQueriesTable(w io.Writer, r GeoResult) {
	fmt.Fprintln(w, "queries: the point and area cases of the geo scenario, next to the trivial handler (no Redis, no updates)")
	r.WriteTable(w)
}
