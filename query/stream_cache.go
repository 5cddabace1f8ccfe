package query

import (
	"hash/maphash"
	"sync"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/porttrack/porttrack/state"
)

// The render cache: the JSON of an object is the same for every stream
// client (tenancy only decides whether a client gets it), so a client that
// needs an object's state after a change reuses a rendering made after that
// change by any client. An entry holds the hub's head when its rendering
// began: every change before it was committed, so the rendering is at
// least as new as any of them. The cache is sharded and bounded in bytes:
// a full shard is emptied.

const (
	cacheShards     = 64
	cacheShardBytes = 256 << 10 // 16 MiB in all
)

// rendered is an object's JSON and where it is.
type rendered struct {
	upTo     uint64 // hub head when the rendering began
	ok       bool   // false: not found (or not renderable)
	body     []byte // immutable once cached
	hasPos   bool
	lat, lon float64
}

type renderCache struct {
	seed   maphash.Seed
	shards [cacheShards]struct {
		sync.Mutex
		m     map[objKey]*rendered
		bytes int
	}
}

func (c *renderCache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = map[objKey]*rendered{}
	}
}

func (c *renderCache) shard(k objKey) int {
	return int((maphash.String(c.seed, k.id) + uint64(k.kind)) % cacheShards)
}

// get returns a rendering of k made after the change at seq, or nil.
func (c *renderCache) get(k objKey, seq uint64) *rendered {
	sh := &c.shards[c.shard(k)]
	sh.Lock()
	defer sh.Unlock()
	if r := sh.m[k]; r != nil && r.upTo > seq {
		return r
	}
	return nil
}

func (c *renderCache) put(k objKey, r *rendered) {
	sh := &c.shards[c.shard(k)]
	sh.Lock()
	defer sh.Unlock()
	if old := sh.m[k]; old != nil {
		if old.upTo >= r.upTo {
			return
		}
		sh.bytes -= len(old.body) + len(k.id)
	}
	if sh.bytes+len(r.body) > cacheShardBytes {
		clear(sh.m)
		sh.bytes = 0
	}
	sh.m[k] = r
	sh.bytes += len(r.body) + len(k.id)
}

// object returns the current state of the object of e, from the cache or
// rendered now. The caller holds a slot of hub.render.
func (c *streamClient) object(e *ringEntry) *rendered {
	h := c.s.hub
	k := objKey{e.kind, e.id}
	if e.kind == state.ChangeCustoms {
		k.kind = state.ChangeContainer // the same answer
	}
	if r := h.cache.get(k, e.seq); r != nil {
		return r
	}
	r := &rendered{upTo: h.head.Load()}
	c.renderObject(k, r)
	h.cache.put(k, r)
	return r
}

func (c *streamClient) renderObject(k objKey, r *rendered) {
	st := c.s.cfg.Store
	switch k.kind {
	case state.ChangeVessel:
		mmsi, err := parseMMSI(k.id)
		if err != nil {
			return
		}
		v, err := st.Vessel(mmsi)
		if err != nil {
			return
		}
		r.ok, r.hasPos, r.lat, r.lon = true, v.HasPosition, v.Lat, v.Lon
		r.body = appendVessel(nil, &v, -1)
	case state.ChangeTruck:
		t, err := st.Trucks.Truck(k.id)
		if err != nil {
			return
		}
		r.ok, r.hasPos, r.lat, r.lon = true, true, t.Lat, t.Lon
		r.body = appendTruck(nil, &t, -1)
	case state.ChangeContainer, state.ChangeTrain:
		b, ok := c.render(func(ctx *fasthttp.RequestCtx) {
			if k.kind == state.ChangeTrain {
				c.s.plan(ctx, state.ModeRail, []byte(k.id))
			} else {
				c.s.container(ctx, []byte(k.id))
			}
		})
		if !ok {
			return
		}
		r.ok, r.body = true, append([]byte(nil), b...)
		r.hasPos, r.lat, r.lon = c.place(b)
	}
}

// place returns where a rendered container or train is: a container by its
// position, else its facility; a train by its departure station.
func (c *streamClient) place(b []byte) (bool, float64, float64) {
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		return false, 0, 0
	}
	if p := v.Get("position"); p != nil {
		return true, p.GetFloat64("lat"), p.GetFloat64("lon")
	}
	id := v.GetStringBytes("facility", "id")
	if id == nil {
		id = v.GetStringBytes("from_station")
	}
	if id == nil {
		return false, 0, 0
	}
	pl, ok := c.s.cfg.Store.Place(string(id))
	return ok, pl.Lat, pl.Lon
}
