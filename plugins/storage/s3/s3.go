// Package s3 is the storage backend on an Amazon S3 bucket, or any S3-compatible
// server, through aws-sdk-go-v2.
//
// Files are objects, folders are empty marker objects ending in "/" (see package
// objstore). Uploads stream into S3 multipart uploads, part_size bytes a part with at
// most concurrency parts in flight, and are completed at Commit: no spool file, and
// nothing visible before. SweepTemp aborts the multipart uploads a crash left.
//
// Config keys (`[[storage]] plugin = "s3"`):
//
//	bucket      required
//	prefix      key prefix, the storage's root in the bucket ("tenants/a")
//	region      default: from the environment or shared config, else "us-east-1"
//	endpoint    URL of an S3-compatible server ("http://127.0.0.1:7070")
//	path_style  true to address the bucket in the path, not the host name
//	access_key, secret_key
//	            static credentials; without them, the SDK's default chain
//	            (AWS_ACCESS_KEY_ID..., shared files, instance roles)
//	part_size   bytes per part, 5 MiB to 5 GiB (default 8 MiB); "16MiB" works too
//	concurrency parts in flight per upload, objects copied at once (default 2)
//
// An upload holds at most (concurrency+1) × part_size bytes in memory. Parts grow
// (see objstore.PartPlan) so that objects of up to 293 GiB fit S3's 10,000 parts at
// the default size.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/internal/objstore"
	"github.com/filegate/filegate/plugins/storage/internal/storeutil"
)

// S3's limits on multipart uploads, and the size of the parts of a copy.
const (
	minPartSize  = 5 << 20
	maxPartSize  = 5 << 30
	maxParts     = 10000
	copyPartSize = 1 << 30
	// maxCopySize is the largest object one CopyObject request copies.
	maxCopySize = 5 << 30
	// openTimeout bounds the bucket check of Open.
	openTimeout = 15 * time.Second
)

// Storage is a hostapi.Storage on an S3 bucket. It is safe for concurrent use.
type Storage struct {
	*objstore.Store
	b          *bucket
	opened     time.Time     // multipart uploads started before are leftovers for SweepTemp
	sweepAfter time.Duration // ... when also older than this (config "sweep_after")
}

var (
	_ hostapi.Storage = (*Storage)(nil)
	_ hostapi.Sweeper = (*Storage)(nil)
	_ hostapi.Opener  = Open
)

// Open builds a Storage from its `[[storage]] config` table (see the package
// documentation) and checks that the bucket can be reached.
func Open(cfg map[string]any) (hostapi.Storage, error) {
	c := objstore.NewConfig("s3", cfg)
	bucketName := c.Required("bucket")
	region := c.String("region")
	endpoint := c.String("endpoint")
	pathStyle := c.Bool("path_style")
	sweepAfter := c.Duration("sweep_after")
	access, secret := c.String("access_key"), c.String("secret_key")
	opts := c.StoreOptions("part_size", minPartSize, objstore.PartPlan{MaxParts: maxParts, MaxSize: maxPartSize})
	if err := c.Err(); err != nil {
		return nil, err
	}
	if (access == "") != (secret == "") {
		return nil, errors.New(`s3: config keys "access_key" and "secret_key" go together`)
	}
	if endpoint != "" {
		if u, err := url.Parse(endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf(`s3: config key "endpoint" is not a URL like "https://host:port": %q`, endpoint)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	loads := []func(*config.LoadOptions) error{
		// S3-compatible servers do not all know the newer default checksums.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if region != "" {
		loads = append(loads, config.WithRegion(region))
	}
	if access != "" {
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(access, secret, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("s3: load the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	s := New(client, bucketName, opts)
	s.sweepAfter = sweepAfter
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucketName)}); err != nil {
		return nil, fmt.Errorf(`s3: config key "bucket": cannot reach bucket %q: %w`, bucketName, classify(err))
	}
	return s, nil
}

// New returns a Storage on the bucket named bucketName through client.
func New(client *s3.Client, bucketName string, opts objstore.Options) *Storage {
	opts.Name = "s3"
	b := &bucket{c: client, name: bucketName, prefix: opts.Prefix}
	if ep := client.Options().BaseEndpoint; ep == nil || strings.HasPrefix(*ep, "https://") {
		// TLS protects the bytes in transit: hashing them for the signature would
		// only cost a core's worth of SHA-256 per few hundred MB/s.
		b.bodyOpts = append(b.bodyOpts, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		})
	}
	return &Storage{Store: objstore.New(b, opts), b: b, opened: time.Now()}
}

// SweepTemp aborts the multipart uploads below the prefix that were started before
// the Storage was opened: those a crash or a kill interrupted. With several gateways
// sharing a bucket, a gateway starting would also abort the uploads the others have
// in progress: there, config "sweep_after" (longer than the longest upload, e.g.
// "24h") spares every upload younger than that; a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) is an alternative.
func (s *Storage) SweepTemp(ctx context.Context) (removed int, err error) {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.b.name), Prefix: aws.String(s.b.prefix)}
	for {
		out, err := s.b.c.ListMultipartUploads(ctx, in)
		if err != nil {
			return removed, fmt.Errorf("s3: sweep: list multipart uploads: %w", classify(err))
		}
		for _, up := range out.Uploads {
			if up.Initiated != nil && !up.Initiated.Before(s.opened.Add(-s.sweepAfter)) {
				continue
			}
			_, err := s.b.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: in.Bucket, Key: up.Key, UploadId: up.UploadId})
			if err != nil && !errors.Is(classify(err), hostapi.ErrNotExist) {
				return removed, fmt.Errorf("s3: sweep: abort the upload to %q: %w", aws.ToString(up.Key), classify(err))
			}
			removed++
		}
		if !aws.ToBool(out.IsTruncated) {
			return removed, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// bucket is the objstore.Bucket of an S3 bucket.
type bucket struct {
	c        *s3.Client
	name     string
	prefix   string
	bodyOpts []func(*s3.Options) // for the requests that carry file data
}

var _ objstore.Bucket = (*bucket)(nil)

func (b *bucket) Head(ctx context.Context, key string) (objstore.Item, error) {
	out, err := b.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return objstore.Item{}, fmt.Errorf("head %q: %w", key, classify(err))
	}
	return objstore.Item{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (b *bucket) List(ctx context.Context, q objstore.Query) iter.Seq2[objstore.Item, error] {
	return func(yield func(objstore.Item, error) bool) {
		in := &s3.ListObjectsV2Input{Bucket: &b.name, Prefix: &q.Prefix}
		if q.Delimiter != "" {
			in.Delimiter = &q.Delimiter
		}
		if q.StartAfter != "" {
			in.StartAfter = &q.StartAfter
		}
		if q.PageSize > 0 && q.PageSize < 1000 {
			in.MaxKeys = aws.Int32(int32(q.PageSize))
		}
		for {
			out, err := b.c.ListObjectsV2(ctx, in)
			if err != nil {
				yield(objstore.Item{}, fmt.Errorf("list %q: %w", q.Prefix, classify(err)))
				return
			}
			// Objects and common prefixes come in two sorted lists: merge them.
			objs, prefixes := out.Contents, out.CommonPrefixes
			for len(objs) > 0 || len(prefixes) > 0 {
				var it objstore.Item
				if len(prefixes) == 0 || (len(objs) > 0 && aws.ToString(objs[0].Key) < aws.ToString(prefixes[0].Prefix)) {
					o := objs[0]
					objs = objs[1:]
					it = objstore.Item{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}
				} else {
					it = objstore.Item{Key: aws.ToString(prefixes[0].Prefix), IsPrefix: true}
					prefixes = prefixes[1:]
				}
				if !yield(it, nil) {
					return
				}
			}
			if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
				return
			}
			in.ContinuationToken = out.NextContinuationToken
			in.MaxKeys = nil // the caller wants more than it hinted
		}
	}
}

func (b *bucket) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.c.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get %q from %d: %w", key, offset, classify(err))
	}
	return out.Body, nil
}

func (b *bucket) Put(ctx context.Context, key string, data []byte) error {
	_, err := b.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &b.name,
		Key:           &key,
		Body:          bytesReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}, b.bodyOpts...)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, classify(err))
	}
	return nil
}

func (b *bucket) StartMultipart(ctx context.Context, key string) (objstore.Multipart, error) {
	out, err := b.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("start a multipart upload to %q: %w", key, classify(err))
	}
	return &multipart{b: b, key: key, id: aws.ToString(out.UploadId), etags: newETags()}, nil
}

func (b *bucket) Copy(ctx context.Context, from, to string, size int64) error {
	if size > maxCopySize {
		return b.copyParts(ctx, from, to, size)
	}
	_, err := b.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b.name, Key: &to, CopySource: b.copySource(from)})
	if err != nil {
		return fmt.Errorf("copy %q to %q: %w", from, to, classify(err))
	}
	return nil
}

// copyParts copies an object too large for CopyObject with a multipart upload of
// ranges of the source.
func (b *bucket) copyParts(ctx context.Context, from, to string, size int64) error {
	m, err := b.StartMultipart(ctx, to)
	if err != nil {
		return err
	}
	mp := m.(*multipart)
	n := 0
	for off := int64(0); off < size; off += copyPartSize {
		n++
		end := min(off+copyPartSize, size) - 1
		out, err := b.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &b.name, Key: &to, UploadId: &mp.id, PartNumber: aws.Int32(int32(n)),
			CopySource: b.copySource(from), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			mp.Abort(abortCtx)
			cancel()
			return fmt.Errorf("copy part %d of %q to %q: %w", n, from, to, classify(err))
		}
		mp.etags.set(n, aws.ToString(out.CopyPartResult.ETag))
	}
	return mp.Complete(ctx, n)
}

// copySource is the URL-encoded "bucket/key" CopyObject wants.
func (b *bucket) copySource(key string) *string {
	parts := strings.Split(b.name+"/"+key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return aws.String(strings.Join(parts, "/"))
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key}); err != nil {
		if errors.Is(classify(err), hostapi.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, classify(err))
	}
	return nil
}

// multipart is an S3 multipart upload.
type multipart struct {
	b     *bucket
	key   string
	id    string
	etags *etags
}

func (m *multipart) UploadPart(ctx context.Context, n int, data []byte) error {
	out, err := m.b.c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &m.b.name, Key: &m.key, UploadId: &m.id, PartNumber: aws.Int32(int32(n)),
		Body: bytesReader(data), ContentLength: aws.Int64(int64(len(data))),
	}, m.b.bodyOpts...)
	if err != nil {
		return fmt.Errorf("upload part %d of %q: %w", n, m.key, classify(err))
	}
	m.etags.set(n, aws.ToString(out.ETag))
	return nil
}

func (m *multipart) Complete(ctx context.Context, n int) error {
	parts := make([]types.CompletedPart, n)
	for i := range parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(m.etags.get(i + 1))}
	}
	_, err := m.b.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &m.b.name, Key: &m.key, UploadId: &m.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete the multipart upload to %q: %w", m.key, classify(err))
	}
	return nil
}

func (m *multipart) Abort(ctx context.Context) error {
	_, err := m.b.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &m.b.name, Key: &m.key, UploadId: &m.id})
	if err != nil && !errors.Is(classify(err), hostapi.ErrNotExist) {
		return fmt.Errorf("abort the multipart upload to %q: %w", m.key, classify(err))
	}
	return nil
}

// classify adds the hostapi error kind, or objstore.ErrRange, to an S3 error.
func classify(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return err
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return storeutil.WithKind(err, hostapi.ErrNotExist)
		case "InvalidRange":
			return storeutil.WithKind(err, objstore.ErrRange)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
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
