package sftpd

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/vfs"
)

// serveSession answers a session channel's requests: the "sftp" subsystem once, and
// false to everything else (shell, exec, pty-req, env, x11, agent forwarding...).
// cc, when not nil, is the connection under ch, for the SFTP layer to cork.
func (s *Server) serveSession(ctx context.Context, log *slog.Logger, fsys *vfs.FS, cc *corkConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	done := make(chan struct{})
	started := false
	defer func() {
		ch.Close()
		if started {
			<-done
		}
	}()
	for req := range reqs {
		ok := !started && req.Type == "subsystem" && isSFTP(req.Payload)
		if err := req.Reply(ok, nil); err != nil {
			return
		}
		if !ok {
			log.Debug("refused a session request", "type", req.Type)
			continue
		}
		started = true
		go func() {
			defer close(done)
			status := uint32(0)
			if err := s.serveSFTP(ctx, log, fsys, cc, ch); err != nil {
				log.Info("SFTP session ended", "err", err)
				status = 1
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			ch.Close() // the client closes its side; reqs then ends
		}()
	}
}

// isSFTP reports whether a subsystem request's payload names "sftp".
func isSFTP(payload []byte) bool {
	var p struct{ Name string }
	return ssh.Unmarshal(payload, &p) == nil && p.Name == "sftp"
}

// serveSFTP runs pkg/sftp's request server on ch until the client ends it. With cc,
// the connection under ch, a reply's header waits for its data (see corkConn).
func (s *Server) serveSFTP(ctx context.Context, log *slog.Logger, fsys *vfs.FS, cc *corkConn, ch ssh.Channel) error {
	h := &handlers{ctx: ctx, log: log, fs: fsys, uploads: map[string]*uploadHandle{}}
	var opts []sftp.RequestServerOption
	if !s.allocPackets {
		// pkg/sftp's packet allocator saves a 32 KiB allocation per packet: a quarter
		// of the server's CPU per GiB (BenchmarkOpenSSHTransfer, cork-alloc vs cork).
		// Upstream it holds a 256 KiB page for every packet a session has queued (up to
		// some 50 during an upload): 4 parallel 1 GiB SFTP uploads to S3 peaked at
		// 256 MiB RSS with it, 147 MiB without. third_party/pkg/sftp sizes the pages to
		// the packets (40 KiB; see its FILEGATE.md).
		opts = append(opts, sftp.WithRSAllocator())
	}
	var rwc io.ReadWriteCloser = ch
	if cc != nil {
		rwc = &sftpChannel{ReadWriteCloser: ch, conn: cc}
	}
	srv := sftp.NewRequestServer(rwc, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}, opts...)
	err := srv.Serve()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
