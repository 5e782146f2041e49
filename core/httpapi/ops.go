package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

type healthJSON struct {
	Status string `json:"status"`
	Store  string `json:"store"`
}

func (a *API) healthz(c *call) error {
	h := healthJSON{Status: "ok", Store: "ok"}
	status := fasthttp.StatusOK
	if _, err := a.opt.Store.Tenants(c.cx); err != nil {
		h.Status, h.Store, status = "degraded", err.Error(), fasthttp.StatusServiceUnavailable
	}
	writeJSON(c.ctx, status, h)
	return nil
}

func (a *API) serveMetrics(c *call) error {
	var buf bytes.Buffer
	a.metrics.write(&buf)
	c.ctx.SetContentType("text/plain; version=0.0.4")
	c.ctx.SetBody(buf.Bytes())
	return nil
}

func (a *API) serveOpenAPI(c *call) error {
	c.ctx.SetContentType("application/json")
	c.ctx.SetBody(a.openapi)
	return nil
}

// buildOpenAPI renders the route table as an OpenAPI 3.0 document, with schemas derived
// from the Go types the handlers decode and encode.
func (a *API) buildOpenAPI() []byte {
	paths := map[string]map[string]any{}
	for _, rt := range a.router.routes {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.tag},
		}
		var params []any
		for _, seg := range rt.segs {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		for _, p := range rt.params {
			params = append(params, map[string]any{"name": p.name, "in": "query", "required": p.required, "description": p.desc, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch {
		case rt.body != nil:
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.body))}}}
		case rt.form:
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object"}}}}
		}
		ok := map[string]any{"description": "success"}
		if rt.resp != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.resp))}}
		} else if rt.raw != "" {
			ok["content"] = map[string]any{rt.raw: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(errorBody{}))}}}
		op["responses"] = map[string]any{itoa(rt.status): ok, "default": errResp}
		if rt.auth {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
			if rt.scope != "" {
				op["x-required-scope"] = rt.scope
				op["description"] = "Requires scope " + rt.scope + "."
			}
		}
		if paths[rt.pattern] == nil {
			paths[rt.pattern] = map[string]any{}
		}
		paths[rt.pattern][strings.ToLower(rt.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Filegate REST API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
		}},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

func operationID(rt *route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, s := range rt.segs {
		s = strings.Trim(s, "{}")
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '.' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func itoa(n int) string { return fmtInt(n) }

func fmtInt(n int) string { return sprintf("%d", n) }

var timeType = reflect.TypeOf(time.Time{})

// schemaOf derives a JSON schema from a Go type the way encoding/json encodes it.
func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok {
				n, _, _ := strings.Cut(tag, ",")
				if n == "-" {
					continue
				}
				if n != "" {
					name = n
				}
			}
			props[name] = schemaOf(f.Type)
		}
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}
