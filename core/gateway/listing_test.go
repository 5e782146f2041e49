package gateway_test

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/conformance/testservers"
	"github.com/filegate/filegate/core/internal/clienttest"
)

// startOnS3 runs a gateway whose primary storage is the S3 server sv under prefix,
// with the given listing mode.
func startOnS3(t testing.TB, sv *testservers.S3, prefix, listing string) *clienttest.Env {
	return clienttest.StartWith(t, sv.StorageTOML("default", prefix)+fmt.Sprintf("listing = %q\n", listing), nil)
}

// sftpNames lists the folder dir over SFTP as user and returns the sorted names.
func sftpNames(t testing.TB, e *clienttest.Env, user, dir string) []string {
	c, err := clienttest.DialSSH("", e.SFTPAddr(), user, ssh.Password(clienttest.Password), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fis, err := c.SFTP.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%q): %v", dir, err)
	}
	names := make([]string, len(fis))
	for i, fi := range fis {
		names[i] = fi.Name()
	}
	sort.Strings(names)
	return names
}

// TestMetadataListing checks that with listing = "metadata" FTP and SFTP folder
// listings come from the metadata tree: an object put in the bucket behind the
// gateway's back is not listed until `filegate reindex`, while the REST API, which
// lists the physical storage, sees it at once.
func TestMetadataListing(t *testing.T) {
	clienttest.Need(t, "curl")
	sv := testservers.Versitygw(t)
	e := startOnS3(t, sv, "meta", "metadata")
	e.CreateAccount(t, map[string]any{"Username": "lister"})
	c, err := clienttest.DialSSH("", e.SFTPAddr(), "lister", ssh.Password(clienttest.Password), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SFTP.MkdirAll("/in/sub"); err != nil {
		t.Fatal(err)
	}
	f, err := c.SFTP.Create("/in/through gateway.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hello"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.Client.PutObject(t.Context(), &awss3.PutObjectInput{
		Bucket: aws.String(testservers.Bucket), Key: aws.String("meta/in/behind.txt"), Body: strings.NewReader("x"),
	}); err != nil {
		t.Fatal(err)
	}

	const want = "sub,through gateway.txt"
	if got := strings.Join(sftpNames(t, e, "lister", "/in"), ","); got != want {
		t.Errorf("SFTP listing = %s, want %s", got, want)
	}
	u := (&url.URL{Scheme: "ftp", User: url.UserPassword("lister", clienttest.Password), Host: e.FTPAddr(), Path: "/in/"}).String()
	nlst := strings.ReplaceAll(clienttest.Run(t, t.TempDir(), false, "curl", "-sS", "--fail", "--list-only", u), "\r", "")
	names := strings.Split(strings.TrimSpace(nlst), "\n")
	sort.Strings(names)
	if got := strings.Join(names, ","); got != want {
		t.Errorf("FTP NLST = %q", got)
	}
	var page struct{ Data []struct{ Name string } }
	if s := e.Do("GET", "/api/list/files?path=/in", e.Token(), nil, &page); s != 200 || len(page.Data) != 2 {
		t.Errorf("REST list of the physical storage: %d %+v, want both files", s, page.Data)
	}
	if _, err := c.SFTP.ReadDir("/missing"); err == nil {
		t.Error("listing a missing folder succeeded")
	}

	if _, err := e.G.Reindex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sftpNames(t, e, "lister", "/in"), ","); got != "behind.txt,"+want {
		t.Errorf("SFTP listing after reindex = %s", got)
	}
}

// BenchmarkSFTPListing10k lists a folder of 10,000 objects on S3 (versitygw) over
// SFTP, answered by the bucket (direct) and by the metadata tree (metadata).
func BenchmarkSFTPListing10k(b *testing.B) {
	const n = 10000
	sv := testservers.Versitygw(b)
	var wg sync.WaitGroup
	keys := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range keys {
				key := fmt.Sprintf("bench/big/file-%05d.txt", i)
				if _, err := sv.Client.PutObject(b.Context(), &awss3.PutObjectInput{
					Bucket: aws.String(testservers.Bucket), Key: aws.String(key), Body: strings.NewReader("x"),
				}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		keys <- i
	}
	close(keys)
	wg.Wait()
	for _, listing := range []string{"direct", "metadata"} {
		b.Run(listing, func(b *testing.B) {
			e := startOnS3(b, sv, "bench", listing)
			if listing == "metadata" {
				if _, err := e.G.Reindex(b.Context(), nil); err != nil {
					b.Fatal(err)
				}
			}
			e.CreateAccount(b, map[string]any{"Username": "bench"})
			c, err := clienttest.DialSSH("", e.SFTPAddr(), "bench", ssh.Password(clienttest.Password), true)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			for b.Loop() {
				fis, err := c.SFTP.ReadDir("/big")
				if err != nil || len(fis) != n {
					b.Fatalf("ReadDir = %d entries, %v; want %d", len(fis), err, n)
				}
			}
		})
	}
}
