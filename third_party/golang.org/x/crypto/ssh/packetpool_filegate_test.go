package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	mrand "math/rand/v2"
	"net"
	"testing"
)

// TestBufferRecyclesReadPackets: a packet given with writePacket is recycled once its
// data is read to the end, and not before.
func TestBufferRecyclesReadPackets(t *testing.T) {
	for len(dataPackets) > 0 {
		<-dataPackets
	}
	b := newBuffer()
	packet := newPacketBuf(msgChannelData, 9+100)
	if cap(packet) != dataPacketCap {
		t.Fatalf("data packet buffer cap %d, want %d", cap(packet), dataPacketCap)
	}
	b.writePacket(packet[9:], packet)
	if _, err := b.Read(make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	if len(dataPackets) != 0 {
		t.Fatal("packet recycled before its data was read")
	}
	if n, err := b.Read(make([]byte, 60)); err != nil || n != 40 {
		t.Fatalf("second read: %d, %v; want 40 bytes", n, err)
	}
	if len(dataPackets) != 1 {
		t.Fatal("packet not recycled after its data was read")
	}
	if p := newPacketBuf(msgChannelRequest, 9+100); cap(p) == dataPacketCap {
		t.Fatal("a recycled buffer given to a packet other than channel data")
	}
	if p := newPacketBuf(msgChannelData, dataPacketCap+1); len(p) != dataPacketCap+1 {
		t.Fatal("an oversized data packet got a short buffer")
	}
}

// TestRecycledPacketsKeepData: data sent through a channel in writes of every size
// arrives intact while packet buffers are recycled under it.
func TestRecycledPacketsKeepData(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sconf := &ServerConfig{NoClientAuth: true}
	sconf.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // not net.Pipe: both sides write their version at once
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()

	data := make([]byte, 8<<20)
	rand.Read(data)
	got := make(chan []byte, 1)
	go func() {
		defer close(got)
		_, chans, reqs, err := NewServerConn(c1, sconf)
		if err != nil {
			t.Error(err)
			return
		}
		go DiscardRequests(reqs)
		nch := <-chans
		ch, creqs, err := nch.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		go DiscardRequests(creqs)
		var out bytes.Buffer
		buf := make([]byte, 7000) // reads that end inside packets
		for {
			n, err := ch.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- out.Bytes()
	}()
	conn, chans, reqs, err := NewClientConn(c2, "pipe", &ClientConfig{HostKeyCallback: InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	client := NewClient(conn, chans, reqs)
	defer client.Close()
	ch, _, err := client.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+mrand.IntN(100<<10))
		if _, err := ch.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	ch.CloseWrite()
	if g := <-got; !bytes.Equal(g, data) {
		t.Fatalf("received %d bytes differing from the %d sent", len(g), len(data))
	}
}
