module golang.org/x/crypto

go 1.26.0

require (
	github.com/aead/chacha20 v0.0.0-20180709150244-8b13a72661da
	golang.org/x/sys v0.49.0
)
