package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/filegate/filegate/core/plugin"
)

var _ plugin.KV = (*PluginKV)(nil)

func TestPluginKV(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		kv, ctx := s.PluginKV(), context.Background()
		get := func(ns, key string) ([]byte, bool) {
			t.Helper()
			v, found, err := kv.Get(ctx, ns, key)
			if err != nil {
				t.Fatal(err)
			}
			return v, found
		}
		if _, found := get("a", "k"); found {
			t.Fatal("found a key never put")
		}
		big := bytes.Repeat([]byte{0, 0xff, 'x'}, 20000) // binary, 60 KB
		for _, put := range []struct {
			ns, key string
			v       []byte
		}{{"a", "k", []byte("one")}, {"b", "k", []byte("other plugin")}, {"a", "k", big}, {"a", "empty", nil}} {
			if err := kv.Put(ctx, put.ns, put.key, put.v); err != nil {
				t.Fatal(err)
			}
		}
		if v, found := get("a", "k"); !found || !bytes.Equal(v, big) {
			t.Fatalf("a/k: found %v, %d bytes; want the replaced %d-byte value", found, len(v), len(big))
		}
		if v, found := get("b", "k"); !found || string(v) != "other plugin" {
			t.Fatalf("b/k = %q, %v: namespaces must not share keys", v, found)
		}
		if v, found := get("a", "empty"); !found || v == nil || len(v) != 0 {
			t.Fatalf("a/empty = %q (nil %v), %v: want found and empty", v, v == nil, found)
		}
		for range 2 { // deleting a missing key is no error
			if err := kv.Delete(ctx, "a", "k"); err != nil {
				t.Fatal(err)
			}
		}
		if _, found := get("a", "k"); found {
			t.Fatal("a/k survived Delete")
		}
		if _, found := get("b", "k"); !found {
			t.Fatal("deleting a/k removed b/k")
		}
	})
}
