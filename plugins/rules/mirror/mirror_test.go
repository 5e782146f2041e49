package mirror_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/filegate/filegate/conformance/testservers"
	"github.com/filegate/filegate/core/gateway/gatewaytest"
)

// errGone is what a target's read returns for a key that does not exist.
var errGone = errors.New("no such object")

// target is an object store the mirror copies to: its [[storage]] table (named
// "offsite") and a way to read one of its objects directly, bypassing the gateway.
type target struct {
	toml string
	read func(t *testing.T, key string) ([]byte, error)
}

// prefix is the offsite storage's root in the bucket or container.
const prefix = "site-a/"

var targets = []struct {
	name  string
	start func(t *testing.T) target
}{
	{"s3-versitygw", func(t *testing.T) target {
		sv := testservers.Versitygw(t)
		return target{sv.StorageTOML("offsite", prefix), func(t *testing.T, key string) ([]byte, error) {
			out, err := sv.Client.GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String(testservers.Bucket), Key: aws.String(prefix + key)})
			var missing *types.NoSuchKey
			if errors.As(err, &missing) {
				return nil, errGone
			}
			if err != nil {
				return nil, err
			}
			defer out.Body.Close()
			return io.ReadAll(out.Body)
		}}
	}},
	{"azureblob-azurite", func(t *testing.T) target {
		az := testservers.Azurite(t)
		c, err := container.NewClientFromConnectionString(az.ConnectionString(), testservers.Container, nil)
		if err != nil {
			t.Fatal(err)
		}
		return target{az.StorageTOML("offsite", prefix), func(t *testing.T, key string) ([]byte, error) {
			resp, err := c.NewBlobClient(prefix+key).DownloadStream(t.Context(), nil)
			if bloberror.HasCode(err, bloberror.BlobNotFound) {
				return nil, errGone
			}
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			return io.ReadAll(resp.Body)
		}}
	}},
}

// TestMirrorToObjectStorage uploads through a gateway whose mirror rule copies to a
// second [[storage]] on S3 (versitygw) or Azure Blob (Azurite), and reads the objects
// straight from the bucket or container: the same bytes, a file larger than one part
// included; a deletion and a folder move through the API are propagated too.
func TestMirrorToObjectStorage(t *testing.T) {
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := tc.start(t)
			e := gatewaytest.Start(t, `
[[storage]]
name = "default"
plugin = "local"
config = { root = "files" }
`+tg.toml+`
[[rules]]
name = "mirror"
plugin = "mirror"
events = ["file.uploaded", "file.moved", "file.deleted", "dir.deleted"]
allow = ["storage:default", "storage:offsite"]
config = { target = "offsite", delete = true }
`, nil)
			files := map[string][]byte{
				"in/small.txt":         []byte("a small file\n"),
				"in/sub/big file.bin":  content(20<<20 + 3), // several parts of the default 8 MiB
				"in/sub/gone soon.txt": []byte("deleted next\n"),
			}
			e.Upload(rooted(files))
			for p, data := range files {
				waitFor(t, fmt.Sprintf("%s mirrored", p), func() bool {
					got, err := tg.read(t, p)
					return err == nil && bytes.Equal(got, data)
				})
			}

			if s := e.Do("POST", "/api/delete", e.Token(), map[string]any{"path": "/in/sub/gone soon.txt"}, nil); s != 200 {
				t.Fatalf("delete: %d", s)
			}
			waitFor(t, "the deletion mirrored", func() bool {
				_, err := tg.read(t, "in/sub/gone soon.txt")
				return errors.Is(err, errGone)
			})

			if s := e.Do("POST", "/api/move", e.Token(), map[string]string{"from": "/in", "to": "/out"}, nil); s != 200 {
				t.Fatalf("move: %d", s)
			}
			for _, p := range []string{"in/small.txt", "in/sub/big file.bin"} {
				moved := "out/" + p[len("in/"):]
				waitFor(t, fmt.Sprintf("%s mirrored to %s", p, moved), func() bool {
					got, err := tg.read(t, moved)
					_, errOld := tg.read(t, p)
					return err == nil && bytes.Equal(got, files[p]) && errors.Is(errOld, errGone)
				})
			}
		})
	}
}

// content returns n bytes that differ from one MiB to the next.
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>20)
	}
	return b
}

// rooted returns files with each path made absolute.
func rooted(files map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for p, b := range files {
		out["/"+p] = b
	}
	return out
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
