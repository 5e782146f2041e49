// Package azureblob is the storage backend on an Azure Blob Storage container, through
// the azblob SDK.
//
// Files are block blobs, folders are empty marker blobs ending in "/" (see package
// objstore). Uploads stream into staged blocks, block_size bytes a block with at most
// concurrency blocks in flight, and become the blob when the block list is committed
// at Commit: no spool file, and nothing visible before. An aborted or interrupted
// upload leaves only uncommitted blocks, which are invisible, discarded by the next
// commit to the same blob, and garbage-collected by the service after a week; so
// there is nothing for a SweepTemp to do.
//
// Config keys (`[[storage]] plugin = "azureblob"`):
//
//	container         required
//	prefix            blob name prefix, the storage's root in the container
//	account           the storage account (required with key or sas)
//	key               the account's shared key, or
//	connection_string a connection string (account, key and endpoint), or
//	sas               a SAS token ("sv=...&sig=...") for the container
//	endpoint          the blob service URL; default https://ACCOUNT.blob.core.windows.net
//	                  (Azurite: http://127.0.0.1:10000/devstoreaccount1)
//	block_size        bytes per block, 1 MiB to 4000 MiB (default 8 MiB); "16MiB" works too
//	concurrency       blocks in flight per upload, blobs copied at once (default 2)
//
// An upload holds at most (concurrency+1) × block_size bytes in memory.
package azureblob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/internal/objstore"
	"github.com/filegate/filegate/plugins/storage/internal/storeutil"
)

// Azure's limits on block blobs, and timings.
const (
	minBlockSize = 1 << 20
	maxBlockSize = 4000 << 20
	maxBlocks    = 50000
	openTimeout  = 15 * time.Second
	// copyPoll is how often a pending server-side copy is checked.
	copyPoll = 100 * time.Millisecond
)

// Storage is a hostapi.Storage on an Azure Blob Storage container. It is safe for
// concurrent use.
type Storage struct {
	*objstore.Store
}

var (
	_ hostapi.Storage = (*Storage)(nil)
	_ hostapi.Opener  = Open
)

// Open builds a Storage from its `[[storage]] config` table (see the package
// documentation) and checks that the container can be reached.
func Open(cfg map[string]any) (hostapi.Storage, error) {
	c := objstore.NewConfig("azureblob", cfg)
	name := c.Required("container")
	account := c.String("account")
	key, connStr, sas := c.String("key"), c.String("connection_string"), c.String("sas")
	endpoint := c.String("endpoint")
	opts := c.StoreOptions("block_size", minBlockSize, objstore.PartPlan{MaxParts: maxBlocks, MaxSize: maxBlockSize})
	if err := c.Err(); err != nil {
		return nil, err
	}
	client, err := newClient(name, account, key, connStr, sas, endpoint)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if _, err := client.GetProperties(ctx, nil); err != nil {
		return nil, fmt.Errorf(`azureblob: config key "container": cannot reach container %q: %w`, name, classify(err))
	}
	return New(client, opts), nil
}

// newClient returns the client of the container name for one of the three ways to
// authenticate.
func newClient(name, account, key, connStr, sas, endpoint string) (*container.Client, error) {
	set := 0
	for _, v := range []string{key, connStr, sas} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New(`azureblob: exactly one of the config keys "key", "connection_string" and "sas" is required`)
	}
	if connStr != "" {
		if account != "" || endpoint != "" {
			return nil, errors.New(`azureblob: config key "connection_string" names the account and endpoint: drop "account" and "endpoint"`)
		}
		client, err := container.NewClientFromConnectionString(connStr, name, nil)
		if err != nil {
			return nil, fmt.Errorf(`azureblob: config key "connection_string": %w`, err)
		}
		return client, nil
	}
	if account == "" {
		return nil, errors.New(`azureblob: config key "account" is required with "key" or "sas"`)
	}
	if endpoint == "" {
		endpoint = "https://" + account + ".blob.core.windows.net"
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf(`azureblob: config key "endpoint" is not a URL like "https://host": %q`, endpoint)
	}
	u = u.JoinPath(name)
	if sas != "" {
		u.RawQuery = strings.TrimPrefix(sas, "?")
		client, err := container.NewClientWithNoCredential(u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf(`azureblob: config key "sas": %w`, err)
		}
		return client, nil
	}
	cred, err := container.NewSharedKeyCredential(account, key)
	if err != nil {
		return nil, fmt.Errorf(`azureblob: config key "key": %w`, err)
	}
	client, err := container.NewClientWithSharedKeyCredential(u.String(), cred, nil)
	if err != nil {
		return nil, fmt.Errorf(`azureblob: config key "endpoint": %w`, err)
	}
	return client, nil
}

// New returns a Storage on the container client.
func New(client *container.Client, opts objstore.Options) *Storage {
	opts.Name = "azureblob"
	return &Storage{Store: objstore.New(&bucket{c: client}, opts)}
}

// bucket is the objstore.Bucket of a container.
type bucket struct {
	c *container.Client
}

var _ objstore.Bucket = (*bucket)(nil)

func (b *bucket) Head(ctx context.Context, key string) (objstore.Item, error) {
	p, err := b.c.NewBlobClient(key).GetProperties(ctx, nil)
	if err != nil {
		return objstore.Item{}, fmt.Errorf("properties of %q: %w", key, classify(err))
	}
	return objstore.Item{Key: key, Size: deref(p.ContentLength), ModTime: deref(p.LastModified)}, nil
}

// List pages through the container. Azure has no start-after: keys up to
// q.StartAfter are read and skipped.
func (b *bucket) List(ctx context.Context, q objstore.Query) iter.Seq2[objstore.Item, error] {
	return func(yield func(objstore.Item, error) bool) {
		var maxResults *int32
		if q.PageSize > 0 && q.PageSize < 5000 {
			maxResults = new(int32(q.PageSize))
		}
		var next func(context.Context) ([]objstore.Item, bool, error)
		if q.Delimiter == "" {
			pager := b.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &q.Prefix, MaxResults: maxResults})
			next = func(ctx context.Context) ([]objstore.Item, bool, error) {
				page, err := pager.NextPage(ctx)
				if err != nil {
					return nil, false, err
				}
				return merge(page.Segment.BlobItems, nil), pager.More(), nil
			}
		} else {
			pager := b.c.NewListBlobsHierarchyPager(q.Delimiter, &container.ListBlobsHierarchyOptions{Prefix: &q.Prefix, MaxResults: maxResults})
			next = func(ctx context.Context) ([]objstore.Item, bool, error) {
				page, err := pager.NextPage(ctx)
				if err != nil {
					return nil, false, err
				}
				return merge(page.Segment.BlobItems, page.Segment.BlobPrefixes), pager.More(), nil
			}
		}
		for more := true; more; {
			items, m, err := next(ctx)
			if err != nil {
				yield(objstore.Item{}, fmt.Errorf("list %q: %w", q.Prefix, classify(err)))
				return
			}
			more = m
			for _, it := range items {
				if it.Key <= q.StartAfter {
					continue
				}
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// merge turns one page of blobs and prefixes, each sorted, into items in key order.
func merge(blobs []*container.BlobItem, prefixes []*container.BlobPrefix) []objstore.Item {
	items := make([]objstore.Item, 0, len(blobs)+len(prefixes))
	for len(blobs) > 0 || len(prefixes) > 0 {
		if len(prefixes) == 0 || (len(blobs) > 0 && deref(blobs[0].Name) < deref(prefixes[0].Name)) {
			it := objstore.Item{Key: deref(blobs[0].Name)}
			if p := blobs[0].Properties; p != nil {
				it.Size, it.ModTime = deref(p.ContentLength), deref(p.LastModified)
			}
			items = append(items, it)
			blobs = blobs[1:]
			continue
		}
		items = append(items, objstore.Item{Key: deref(prefixes[0].Name), IsPrefix: true})
		prefixes = prefixes[1:]
	}
	return items
}

func (b *bucket) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	resp, err := b.c.NewBlobClient(key).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: offset}})
	if err != nil {
		return nil, fmt.Errorf("download %q from %d: %w", key, offset, classify(err))
	}
	return resp.NewRetryReader(ctx, nil), nil
}

func (b *bucket) Put(ctx context.Context, key string, data []byte) error {
	_, err := b.c.NewBlockBlobClient(key).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), nil)
	if err != nil {
		return fmt.Errorf("upload %q: %w", key, classify(err))
	}
	return nil
}

func (b *bucket) StartMultipart(ctx context.Context, key string) (objstore.Multipart, error) {
	var id [8]byte
	rand.Read(id[:])
	return &blocks{b: b, key: key, id: hex.EncodeToString(id[:])}, nil
}

// Copy starts a server-side copy and waits for it to finish.
func (b *bucket) Copy(ctx context.Context, from, to string, size int64) error {
	dst := b.c.NewBlobClient(to)
	resp, err := dst.StartCopyFromURL(ctx, b.c.NewBlobClient(from).URL(), nil)
	if err != nil {
		return fmt.Errorf("copy %q to %q: %w", from, to, classify(err))
	}
	status := deref(resp.CopyStatus)
	for status == blob.CopyStatusTypePending {
		select {
		case <-ctx.Done():
			return fmt.Errorf("copy %q to %q: %w", from, to, context.Cause(ctx))
		case <-time.After(copyPoll):
		}
		p, err := dst.GetProperties(ctx, nil)
		if err != nil {
			return fmt.Errorf("copy %q to %q: %w", from, to, classify(err))
		}
		status = deref(p.CopyStatus)
		if status != blob.CopyStatusTypePending && status != blob.CopyStatusTypeSuccess {
			return fmt.Errorf("copy %q to %q: status %s: %s", from, to, status, deref(p.CopyStatusDescription))
		}
	}
	return nil
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.c.NewBlobClient(key).Delete(ctx, nil); err != nil {
		if errors.Is(classify(err), hostapi.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, classify(err))
	}
	return nil
}

// blocks is a block blob being staged. Block IDs carry a random upload ID, so that
// two uploads to the same blob do not mix their blocks.
type blocks struct {
	b   *bucket
	key string
	id  string
}

// blockID returns the ID of block n; all have the same length, as Azure requires.
func (m *blocks) blockID(n int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%06d", m.id, n))
}

func (m *blocks) UploadPart(ctx context.Context, n int, data []byte) error {
	_, err := m.b.c.NewBlockBlobClient(m.key).StageBlock(ctx, m.blockID(n), streaming.NopCloser(bytes.NewReader(data)), nil)
	if err != nil {
		return fmt.Errorf("stage block %d of %q: %w", n, m.key, classify(err))
	}
	return nil
}

func (m *blocks) Complete(ctx context.Context, n int) error {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = m.blockID(i + 1)
	}
	if _, err := m.b.c.NewBlockBlobClient(m.key).CommitBlockList(ctx, ids, nil); err != nil {
		return fmt.Errorf("commit the blocks of %q: %w", m.key, classify(err))
	}
	return nil
}

// Abort does nothing: uncommitted blocks are invisible and the service discards them
// (see the package documentation).
func (m *blocks) Abort(ctx context.Context) error { return nil }

// classify adds the hostapi error kind, or objstore.ErrRange, to an Azure error.
func classify(err error) error {
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		return err
	case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ResourceNotFound):
		return storeutil.WithKind(err, hostapi.ErrNotExist)
	case bloberror.HasCode(err, bloberror.InvalidRange):
		return storeutil.WithKind(err, objstore.ErrRange)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case 404:
			return storeutil.WithKind(err, hostapi.ErrNotExist)
		case 416:
			return storeutil.WithKind(err, objstore.ErrRange)
		case 403:
			return storeutil.WithKind(err, hostapi.ErrPermission)
		}
	}
	return err
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
