package httpapi

import (
	"context"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/vfs"
)

// Files gives the Storage API a filesystem view for a caller.
type Files interface {
	// FS returns who's view of its tenant's storage, confined to its PathPrefix, with
	// rights from its scopes; remoteAddr is recorded in events.
	FS(ctx context.Context, who accounts.Principal, remoteAddr string) (*vfs.FS, error)
}

func (a *API) fileRoutes() {}
