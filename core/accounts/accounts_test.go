package accounts

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestParseCIDRs(t *testing.T) {
	got, err := ParseCIDRs([]string{" 10.1.2.3/8 ", "192.0.2.7", "2001:db8::1", ""})
	if err != nil || strings.Join(got, ",") != "10.0.0.0/8,192.0.2.7/32,2001:db8::1/128" {
		t.Fatalf("ParseCIDRs = %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "300.1.1.1", "example.com", "10.0.0.0/x"} {
		if _, err := ParseCIDRs([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if !IPAllowed(nil, netip.MustParseAddr("1.2.3.4")) || !IPAllowed(got, netip.MustParseAddr("::ffff:10.9.9.9")) || IPAllowed(got, netip.MustParseAddr("11.0.0.1")) {
		t.Fatal("IPAllowed is wrong")
	}
}

func TestParseSSHKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	got, err := ParseSSHKeys([]string{"  " + line + " me@host  ", ""})
	if err != nil || len(got) != 1 || got[0] != line+" me@host" {
		t.Fatalf("ParseSSHKeys = %q, %v", got, err)
	}
	if KeyFingerprint(got[0]) != ssh.FingerprintSHA256(k) {
		t.Fatal("fingerprint differs from ssh-keygen's")
	}
	for _, bad := range []string{"ssh-ed25519", "ssh-rsa AAAA!!", line + "\n" + line, "-----BEGIN OPENSSH PRIVATE KEY-----"} {
		if _, err := ParseSSHKeys([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
