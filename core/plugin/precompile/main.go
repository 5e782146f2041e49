// Command precompile compiles .wasm plugins into a wazero compilation cache, so that
// loading them later (for instance in tests built with -race, where wazero's compiler
// runs ten times slower) only reads the cache.
//
//	go run ./core/plugin/precompile -cache DIR a.wasm b.wasm
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
)

func main() {
	dir := flag.String("cache", "", "the compilation cache directory (required)")
	flag.Parse()
	if *dir == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: precompile -cache DIR FILE.wasm...")
		os.Exit(2)
	}
	if err := run(context.Background(), *dir, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, files []string) error {
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return err
	}
	defer cache.Close(ctx)
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bin, err := os.ReadFile(f)
			if err != nil {
				errs[i] = err
				return
			}
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
			defer rt.Close(ctx)
			if _, err := rt.CompileModule(ctx, bin); err != nil {
				errs[i] = fmt.Errorf("%s: %w", f, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
