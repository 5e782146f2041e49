// Package testservers starts the real object-storage servers that tests run against
// on loopback — versitygw for S3 and Azurite for Azure Blob Storage, as installed by
// .ci/versitygw.sh and .ci/azurite.sh — each with its bucket or container created,
// and describes them as [[storage]] configuration.
package testservers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Server is a test server process listening on 127.0.0.1.
type Server struct {
	Addr string // 127.0.0.1:PORT
	Dir  string // its data directory
}

// Start starts the program found in the environment variable env, or at rel (relative
// to the repository root), with the arguments args returns for its port and data
// directory; it skips the test when the program is missing (naming the .ci script
// that installs it). The server is stopped when the test ends.

// startTimeout bounds a server's start: Azurite (Node.js) can take most of a minute on
// a loaded two-core machine.
const startTimeout = 120 * time.Second

func Start(t testing.TB, env, rel, script string, args func(port int, dir string) []string) *Server {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		bin = filepath.Join(RepoRoot(t), rel)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not found (set %s, or run %s): %v", filepath.Base(rel), env, script, err)
	}
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(bin, args(port, dir)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return &Server{Addr: addr, Dir: dir}
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", bin, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within %s", bin, addr, startTimeout)
		}
	}
}

// RepoRoot returns the repository root: the folder of go.mod above the test's folder.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// The credentials and bucket of every S3 test server.
const (
	S3AccessKey = "filegate-test"
	S3SecretKey = "filegate-test-secret"
	Bucket      = "filegate"
)

// S3 is an S3 endpoint holding Bucket.
type S3 struct {
	Endpoint string // http://127.0.0.1:PORT
	Client   *awss3.Client
}

// NewS3 creates Bucket on the S3 endpoint (any S3 server accepting S3AccessKey and
// S3SecretKey).
func NewS3(t testing.TB, endpoint string) *S3 {
	t.Helper()
	client := awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(S3AccessKey, S3SecretKey, ""),
	})
	if _, err := client.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return &S3{Endpoint: endpoint, Client: client}
}

// Versitygw starts the versitygw binary .ci/versitygw.sh builds (or
// $FILEGATE_VERSITYGW) over a temporary directory, or skips the test.
func Versitygw(t testing.TB) *S3 {
	t.Helper()
	srv := Start(t, "FILEGATE_VERSITYGW", ".ci/cache/bin/versitygw", ".ci/versitygw.sh",
		func(port int, dir string) []string {
			return []string{"--port", fmt.Sprintf("127.0.0.1:%d", port), "--access", S3AccessKey, "--secret", S3SecretKey, "posix", dir}
		})
	return NewS3(t, "http://"+srv.Addr)
}

// Config returns the s3 plugin's config table for a storage under prefix.
func (s *S3) Config(prefix string) map[string]any {
	return map[string]any{
		"bucket": Bucket, "prefix": prefix, "region": "us-east-1",
		"endpoint": s.Endpoint, "path_style": true,
		"access_key": S3AccessKey, "secret_key": S3SecretKey,
	}
}

// StorageTOML returns a [[storage]] table named name for the s3 plugin under prefix.
func (s *S3) StorageTOML(name, prefix string) string {
	return fmt.Sprintf("\n[[storage]]\nname = %q\nplugin = \"s3\"\nconfig = { bucket = %q, prefix = %q, endpoint = %q, path_style = true, region = \"us-east-1\", access_key = %q, secret_key = %q }\n",
		name, Bucket, prefix, s.Endpoint, S3AccessKey, S3SecretKey)
}

// Azurite's well-known development account, and the container of every Azure test
// server.
const (
	AzureAccount = "devstoreaccount1"
	AzureKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	Container    = "filegate"
)

// Azure is a running Azurite blob service holding Container.
type Azure struct {
	Endpoint string // http://127.0.0.1:PORT/devstoreaccount1
}

// Azurite runs the azurite-blob that .ci/azurite.sh installs (or $FILEGATE_AZURITE),
// or skips the test.
func Azurite(t testing.TB) *Azure {
	t.Helper()
	srv := Start(t, "FILEGATE_AZURITE", ".ci/cache/node/node_modules/.bin/azurite-blob", ".ci/azurite.sh",
		func(port int, dir string) []string {
			return []string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir, "--skipApiVersionCheck", "--silent"}
		})
	az := &Azure{Endpoint: "http://" + srv.Addr + "/" + AzureAccount}
	client, err := container.NewClientFromConnectionString(az.ConnectionString(), Container, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Create(t.Context(), nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	return az
}

// ConnectionString returns the development account's connection string.
func (az *Azure) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", AzureAccount, AzureKey, az.Endpoint)
}

// Config returns the azureblob plugin's config table for a storage under prefix,
// authenticated with the account key.
func (az *Azure) Config(prefix string) map[string]any {
	return map[string]any{
		"container": Container, "prefix": prefix,
		"account": AzureAccount, "key": AzureKey, "endpoint": az.Endpoint,
	}
}

// StorageTOML returns a [[storage]] table named name for the azureblob plugin under
// prefix.
func (az *Azure) StorageTOML(name, prefix string) string {
	return fmt.Sprintf("\n[[storage]]\nname = %q\nplugin = \"azureblob\"\nconfig = { container = %q, prefix = %q, connection_string = %q }\n",
		name, Container, prefix, az.ConnectionString())
}
