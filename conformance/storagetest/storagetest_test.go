package storagetest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/filegate/filegate/conformance/storagetest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// TestCheck runs the cases outside the testing package's control, as a command-line
// runner would.
func TestCheck(t *testing.T) {
	for _, c := range storagetest.Cases() {
		if err := storagetest.Check(t.Context(), c, memory.New()); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
}

// forgetful loses every Commit: the suite must notice.
type forgetful struct{ *memory.Storage }

func (f forgetful) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	up, err := f.Storage.Create(ctx, name)
	return forgetfulUpload{up}, err
}

type forgetfulUpload struct{ hostapi.Upload }

func (u forgetfulUpload) Commit(ctx context.Context) error { return u.Abort() }

func TestCheckReportsFailures(t *testing.T) {
	failed := 0
	for _, c := range storagetest.Cases() {
		if err := storagetest.Check(context.Background(), c, forgetful{memory.New()}); err != nil {
			failed++
			if errors.Unwrap(err) == nil && err.Error() == "" {
				t.Errorf("%s: empty failure", c.Name)
			}
		}
	}
	if failed < len(storagetest.Cases())/2 {
		t.Errorf("only %d of %d cases failed on a storage that loses every upload", failed, len(storagetest.Cases()))
	}
}
