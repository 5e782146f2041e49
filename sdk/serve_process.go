//go:build !wasip1

package sdk

import (
	"fmt"
	"os"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/goplugin"
)

// Serve serves p over go-plugin until the gateway ends the process, then exits.
// Started by hand (not by the gateway), it prints what it is and exits with status 1.
func Serve(p hostapi.Plugin) {
	if err := Check(p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goplugin.Serve(handler(p))
	os.Exit(0)
}
