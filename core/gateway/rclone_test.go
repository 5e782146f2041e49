package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filegate/filegate/core/internal/clienttest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// TestRcloneCopyCheck copies a 500-file tree with rclone's on-the-fly SFTP and FTP
// remotes, then has rclone check it, and checks the events.
func TestRcloneCopyCheck(t *testing.T) {
	clienttest.Need(t, "rclone")
	e := clienttest.Start(t, nil)
	e.CreateAccount(t, map[string]any{"Username": "rclone", "Chroot": "/rc"})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	for i := 0; i < 500; i++ {
		dir := filepath.Join(src, fmt.Sprintf("batch %02d", i/50), "sub")
		if i%2 == 0 {
			dir = filepath.Dir(dir)
		}
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%03d ü.dat", i)), clienttest.Content(fmt.Sprint(i), 100+i*37), 0o644)
	}
	pass := strings.TrimSpace(clienttest.Run(t, work, false, "rclone", "obscure", clienttest.Password))
	host, port, _ := strings.Cut(e.SFTPAddr(), ":")
	_, ftpPort, _ := strings.Cut(e.FTPAddr(), ":")
	remotes := map[string]string{
		"sftp": fmt.Sprintf(":sftp,host=%s,port=%s,user=rclone,pass=%s:/sftp", host, port, pass),
		"ftp":  fmt.Sprintf(":ftp,host=%s,port=%s,user=rclone,pass=%s:/ftp", host, ftpPort, pass),
	}
	for proto, remote := range remotes {
		flags := []string{"--config", "/dev/null", "--transfers", "4", "--checkers", "4", "--retries", "1", "--low-level-retries", "2"}
		clienttest.Run(t, work, false, "rclone", append([]string{"copy", src, remote}, flags...)...)
		clienttest.Run(t, work, false, "rclone", append([]string{"check", src, remote}, flags...)...)
		n := 0
		for _, ev := range e.Events(t, hostapi.EventFileUploaded) {
			if ev.Protocol == proto && strings.HasPrefix(ev.Path, "/rc/"+proto+"/") {
				n++
			}
		}
		if n != 500 {
			t.Errorf("%s: %d file.uploaded events, want 500", proto, n)
		}
	}
	e.WaitNoPartial(t)
}
