package query

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestRouterMatch(t *testing.T) {
	nop := map[string]handler{"GET": func(*fasthttp.RequestCtx, *request) {}}
	rt, err := newRouter([]route{
		{pattern: "/v1/things/{id}", methods: nop},
		{pattern: "/v1/things/near", methods: nop},
		{pattern: "/v1/things/{id}/parts/{part}", methods: nop},
		{pattern: "/v1/things", methods: nop},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, pattern string
		params        []string
	}{
		{"/v1/things", "/v1/things", nil},
		{"/v1/things/near", "/v1/things/near", nil},
		{"/v1/things/X1", "/v1/things/{id}", []string{"X1"}},
		{"/v1/things/X1/parts/7", "/v1/things/{id}/parts/{part}", []string{"X1", "7"}},
		{"/v1/things/", "", nil},
		{"/v1/things/X1/parts", "", nil},
		{"/v1/things/X1/parts/7/more", "", nil},
		{"/v1", "", nil},
		{"", "", nil},
	} {
		var req request
		r := rt.match([]byte(c.path), &req)
		got := ""
		if r != nil {
			got = r.pattern
		}
		if got != c.pattern {
			t.Errorf("%q matched %q, want %q", c.path, got, c.pattern)
			continue
		}
		if req.n != len(c.params) && r != nil {
			t.Errorf("%q: %d params, want %d", c.path, req.n, len(c.params))
			continue
		}
		for i, p := range c.params {
			if string(req.param(i)) != p {
				t.Errorf("%q: param %d = %q, want %q", c.path, i, req.param(i), p)
			}
		}
	}
	if _, err := newRouter([]route{{pattern: "/a", methods: nop}}, []route{{pattern: "/a", methods: nop}}); err == nil {
		t.Error("a route registered twice was accepted")
	}
}
