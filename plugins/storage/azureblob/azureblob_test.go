package azureblob_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/filegate/filegate/conformance/storagetest"
	"github.com/filegate/filegate/conformance/testservers"
	"github.com/filegate/filegate/core/gateway/gatewaytest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/azureblob"
	"github.com/filegate/filegate/plugins/storage/internal/objstore/objstoretest"
)

const containerName = testservers.Container

// azurite is a running Azurite blob service with the test container.
type azurite struct{ *testservers.Azure }

// start runs Azurite, or skips the test.
func start(t testing.TB) azurite { return azurite{testservers.Azurite(t)} }

// config returns the plugin's config table for a storage under prefix, with the
// account key and small blocks.
func (az azurite) config(prefix string) map[string]any {
	cfg := az.Config(prefix)
	cfg["block_size"], cfg["concurrency"] = int64(1<<20), int64(2)
	return cfg
}

func (az azurite) open(t testing.TB, prefix string) hostapi.Storage {
	t.Helper()
	st, err := azureblob.Open(az.config(prefix))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return st
}

var prefixes atomic.Int64

func TestConformanceAzurite(t *testing.T) {
	az := start(t)
	storagetest.Run(t, func(t *testing.T) hostapi.Storage {
		return az.open(t, fmt.Sprintf("conformance/%d", prefixes.Add(1)))
	})
}

// TestBlocks writes files around the block size and reads them back whole and from
// offsets.
func TestBlocks(t *testing.T) {
	st := start(t).open(t, "blocks")
	for _, size := range []int{1 << 20, 1<<20 + 1, 5<<20 + 3} {
		data := objstoretest.RandomBytes(size)
		name := fmt.Sprintf("/f%d", size)
		objstoretest.Put(t, st, name, data)
		for _, off := range []int{0, 1, 1 << 20, size - 1, size} {
			if got := objstoretest.Read(t, st, name, int64(off)); !bytes.Equal(got, data[off:]) {
				t.Errorf("%s from %d: %d bytes, want %d", name, off, len(got), size-off)
			}
		}
	}
	// An aborted upload over an existing file leaves it as it was.
	u, err := st.Create(t.Context(), "/f1048576")
	if err != nil {
		t.Fatal(err)
	}
	u.Write(objstoretest.RandomBytes(3 << 20))
	if err := u.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if fi, err := st.Stat(t.Context(), "/f1048576"); err != nil || fi.Size != 1<<20 {
		t.Errorf("Stat after an aborted overwrite = %+v, %v", fi, err)
	}
}

// TestCredentials opens the storage with each way to authenticate.
func TestCredentials(t *testing.T) {
	az := start(t)
	st, err := azureblob.Open(map[string]any{"container": containerName, "connection_string": az.ConnectionString()})
	if err != nil {
		t.Fatalf("Open with a connection string: %v", err)
	}
	objstoretest.Put(t, st, "/a", []byte("a"))
	if got := objstoretest.Read(t, az.open(t, ""), "/a", 0); string(got) != "a" {
		t.Errorf("read with the key: %q", got)
	}
}

func TestOpenConfig(t *testing.T) {
	az := start(t)
	for key, bad := range map[string]any{
		"container":   "",
		"block_size":  int64(1 << 10),
		"concurrency": "two",
		"endpoint":    "::",
		"unknown":     true,
	} {
		cfg := az.config("x")
		cfg[key] = bad
		_, err := azureblob.Open(cfg)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("Open with %s = %v: error %v does not name the key", key, bad, err)
		}
	}
	cfg := az.config("x")
	cfg["sas"] = "sv=x"
	if _, err := azureblob.Open(cfg); err == nil || !strings.Contains(err.Error(), `"sas"`) {
		t.Errorf("Open with key and sas: %v", err)
	}
	cfg = az.config("x")
	cfg["container"] = "missing"
	if _, err := azureblob.Open(cfg); err == nil || !strings.Contains(err.Error(), `"container"`) {
		t.Errorf("Open of a missing container: %v", err)
	}
	if _, err := azureblob.Open(map[string]any{"container": "c", "key": "k"}); err == nil || !strings.Contains(err.Error(), `"account"`) {
		t.Errorf("Open without account: %v", err)
	}
}

// TestRenameFolderMany moves a folder of more objects than one copy round.
func TestRenameFolderMany(t *testing.T) {
	st := start(t).open(t, "many")
	ctx := t.Context()
	st.Mkdir(ctx, "/from")
	st.Mkdir(ctx, "/from/sub")
	for i := range 30 {
		objstoretest.Put(t, st, fmt.Sprintf("/from/sub/f%02d", i), []byte{byte(i)})
	}
	if err := st.Rename(ctx, "/from", "/to"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if _, err := st.Stat(ctx, "/from"); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Stat(/from): %v", err)
	}
	page, err := st.List(ctx, "/to/sub", hostapi.ListOptions{Limit: 100})
	if err != nil || len(page.Entries) != 30 {
		t.Fatalf("List(/to/sub) = %d entries, %v", len(page.Entries), err)
	}
}

// TestRenameResumes interrupts a folder rename after its first progress report and
// finishes it by calling it again.
func TestRenameResumes(t *testing.T) {
	az := start(t)
	client, err := container.NewClientFromConnectionString(az.ConnectionString(), containerName, nil)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "resume/"
	keys := func(sub string) []string {
		t.Helper()
		var keys []string
		p := client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr(prefix + sub)})
		for p.More() {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatalf("list %q: %v", prefix+sub, err)
			}
			for _, b := range page.Segment.BlobItems {
				keys = append(keys, strings.TrimPrefix(*b.Name, prefix))
			}
		}
		return keys
	}
	objstoretest.ResumeScenario(t, az.open(t, prefix), keys)
}

// TestGatewayMoveProgress moves a folder of a few hundred blobs through the REST API
// of a gateway on Azurite and checks its dir.moving events.
func TestGatewayMoveProgress(t *testing.T) {
	az := start(t)
	e := gatewaytest.Start(t, az.StorageTOML("default", "progress"), nil)
	objstoretest.MoveProgressScenario(t, e, e.URL)
}

// TestGatewayREST runs a gateway whose primary storage is Azurite and drives it
// through the REST API.
func TestGatewayREST(t *testing.T) {
	az := start(t)
	e := gatewaytest.Start(t, az.StorageTOML("default", "gateway"), nil)
	objstoretest.RESTScenario(t, e, e.URL)
}
