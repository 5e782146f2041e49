// Command loginplugin is the auth plugin of the gateway's login tests, built to .wasm:
// it denies the user "denied", vouches for "vouched" (any password) with a chroot and
// read-only overrides, never answers for "loop" (an endless loop), and abstains on
// everyone else. It allows every operation.
package main

import (
	"context"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/sdk"
)

type loginPlugin struct{}

func (loginPlugin) Manifest() hostapi.Manifest {
	return hostapi.Manifest{Name: "loginplugin", Kind: hostapi.KindAuth}
}

var sink int

func (loginPlugin) Authenticate(_ context.Context, _ hostapi.Host, l hostapi.Login) (hostapi.LoginResult, error) {
	switch l.Username {
	case "denied":
		return hostapi.LoginResult{Verdict: hostapi.VerdictDeny, Reason: "on the deny list"}, nil
	case "vouched":
		return hostapi.LoginResult{Verdict: hostapi.VerdictAllow, Chroot: "/vouched-jail", AccessRights: "R"}, nil
	case "loop":
		for i := 0; ; i++ {
			sink += i
		}
	}
	return hostapi.LoginResult{Verdict: hostapi.VerdictAbstain}, nil
}

func (loginPlugin) Authorize(context.Context, hostapi.Host, hostapi.Operation) (hostapi.Decision, error) {
	return hostapi.Decision{Allow: true}, nil
}

func init() { sdk.Serve(loginPlugin{}) }

func main() {}
