package memory_test

import (
	"testing"

	"github.com/filegate/filegate/conformance/storagetest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) hostapi.Storage { return memory.New() })
}

func TestOpenConfig(t *testing.T) {
	if _, err := memory.Open(nil); err != nil {
		t.Errorf("Open(nil): %v", err)
	}
	if _, err := memory.Open(map[string]any{"root": "/x"}); err == nil {
		t.Errorf("Open with an unknown key succeeded")
	}
}
