package clienttest

import (
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// FTP is a minimal FTP client: enough to log in from a chosen address and to break an
// upload in the middle.
type FTP struct {
	c    net.Conn
	text *textproto.Conn
}

// DialFTP connects to addr from the local IP from ("" for any) and reads the greeting.
func DialFTP(from, addr string) (*FTP, error) {
	c, err := DialFrom(from, addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(Timeout))
	f := &FTP{c: c, text: textproto.NewConn(c)}
	if _, _, err := f.text.ReadResponse(220); err != nil {
		c.Close()
		return nil, fmt.Errorf("ftp greeting: %w", err)
	}
	return f, nil
}

// Cmd sends a command and returns the reply, failing unless its code is want (a
// one-digit want, like 2, accepts any code of that class).
func (f *FTP) Cmd(want int, format string, args ...any) (string, error) {
	if err := f.text.PrintfLine(format, args...); err != nil {
		return "", err
	}
	_, msg, err := f.text.ReadResponse(want)
	return msg, err
}

// Login sends USER and PASS.
func (f *FTP) Login(user, password string) error {
	if _, err := f.Cmd(331, "USER %s", user); err != nil {
		return err
	}
	_, err := f.Cmd(230, "PASS %s", password)
	return err
}

// Passive opens a data connection with EPSV; the next transfer command uses it.
func (f *FTP) Passive() (net.Conn, error) {
	msg, err := f.Cmd(229, "EPSV")
	if err != nil {
		return nil, err
	}
	// "Entering Extended Passive Mode (|||port|)"
	i, j := strings.Index(msg, "(|||"), strings.LastIndex(msg, "|)")
	if i < 0 || j < i+4 {
		return nil, fmt.Errorf("ftp: EPSV reply %q", msg)
	}
	port, err := strconv.Atoi(msg[i+4 : j])
	if err != nil {
		return nil, fmt.Errorf("ftp: EPSV reply %q: %w", msg, err)
	}
	host, _, _ := net.SplitHostPort(f.c.RemoteAddr().String())
	local, _, _ := net.SplitHostPort(f.c.LocalAddr().String())
	return DialFrom(local, net.JoinHostPort(host, strconv.Itoa(port)))
}

// ReadReply reads one reply, failing unless its code is want.
func (f *FTP) ReadReply(want int) (string, error) {
	_, msg, err := f.text.ReadResponse(want)
	return msg, err
}

// Close closes the control connection.
func (f *FTP) Close() error { return f.c.Close() }

// Reset aborts the control connection with a TCP reset.
func (f *FTP) Reset() error { return Reset(f.c) }

// Reset aborts a connection with a TCP reset, as a crashed client's would end.
func Reset(c net.Conn) error {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return c.Close()
}
