package httpapi

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// route is one endpoint: how it is matched, what it needs, and what the OpenAPI
// document says about it. The route table is the one source of both.
type route struct {
	method  string
	pattern string   // e.g. /ftpaccounts/id/{id}
	segs    []string // pattern split on "/"
	scope   string   // required scope; "" with auth = any valid token
	auth    bool     // needs a bearer token
	summary string
	tag     string
	params  []param // query parameters
	body    any     // request body example type (JSON), or nil
	form    bool    // request is multipart/form-data
	resp    any     // 2xx JSON response type, or nil
	raw     string  // 2xx content type when not JSON
	status  int     // success status, default 200
	h       func(*call) error
}

// param documents one query parameter.
type param struct {
	name, desc string
	required   bool
}

// router matches a method and path to a route. Static paths are a map lookup; only
// patterns with {params} are scanned.
type router struct {
	routes []*route
	static map[string]*route // method + " " + path
}

func (r *router) add(rt *route) {
	rt.segs = strings.Split(strings.Trim(rt.pattern, "/"), "/")
	if rt.status == 0 {
		rt.status = fasthttp.StatusOK
	}
	r.routes = append(r.routes, rt)
	if !strings.Contains(rt.pattern, "{") {
		if r.static == nil {
			r.static = map[string]*route{}
		}
		r.static[rt.method+" "+rt.pattern] = rt
	}
}

// isAPIPath reports whether path's first segment is the first segment of some route
// (/api/..., /ftpaccounts/..., /events): such paths are the API's even when no route
// matches them.
func (r *router) isAPIPath(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	for _, rt := range r.routes {
		if rt.segs[0] == first {
			return true
		}
	}
	return false
}

// match finds the route for method and path. pathFound reports whether some route has
// this path under another method (405 rather than 404).
func (r *router) match(method, path string) (rt *route, params map[string]string, pathFound bool) {
	if rt := r.static[method+" "+path]; rt != nil {
		return rt, nil, true
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range r.routes {
		p, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, p, true
		}
		pathFound = true
	}
	return nil, nil, pathFound
}

func matchSegs(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.Trim(p, "{}")] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}
