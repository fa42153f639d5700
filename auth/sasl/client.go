package sasl

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The client side of the mechanisms, for the connections a broker makes
// itself (inter-broker and controller traffic, sasl.mechanism.inter.broker.protocol
// and sasl.mechanism.controller.protocol) and for the spool CLI. As the
// server side, no I/O: the caller carries the tokens in SaslAuthenticate.

// ErrServerRejected marks a server answer that fails the client's checks
// (a bad SCRAM server signature, a malformed server message).
var ErrServerRejected = errors.New("sasl: server answer rejected")

// Client is one client-side exchange. Step takes the server's last token
// (nil for the first step) and returns the next token to send; done is true
// once the client has nothing more to send and has verified the server.
type Client interface {
	Step(challenge []byte) (response []byte, done bool, err error)
}

// NewClient starts an exchange of mechanism (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) as username with password. OAUTHBEARER and GSSAPI are not
// offered on the client side.
func NewClient(mechanism, username, password string) (Client, error) {
	switch mechanism {
	case MechanismPlain:
		return &plainClient{user: username, pass: password}, nil
	case MechanismScramSHA256, MechanismScramSHA512:
		m, _ := ParseScramMechanism(mechanism)
		return &scramClient{mech: m, user: username, pass: password, nonce: randomNonce()}, nil
	}
	return nil, fmt.Errorf("sasl: client mechanism %s is not supported (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", mechanism)
}

type plainClient struct {
	user, pass string
	sent       bool
}

func (c *plainClient) Step([]byte) ([]byte, bool, error) {
	if c.sent {
		return nil, true, nil
	}
	c.sent = true
	return []byte("\x00" + c.user + "\x00" + c.pass), true, nil
}

// scramClient is RFC 5802's client without channel binding ("n,,").
type scramClient struct {
	mech       ScramMechanism
	user, pass string
	nonce      string

	step            int
	clientFirstBare string
	serverSignature []byte
}

// encodeSaslName escapes ',' and '=' as RFC 5802 saslname.
func encodeSaslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (c *scramClient) Step(challenge []byte) ([]byte, bool, error) {
	switch c.step {
	case 0:
		c.step = 1
		c.clientFirstBare = "n=" + encodeSaslName(c.user) + ",r=" + c.nonce
		return []byte("n,," + c.clientFirstBare), false, nil
	case 1:
		c.step = 2
		serverFirst := string(challenge)
		var nonce, salt64, iters string
		for _, f := range strings.Split(serverFirst, ",") {
			switch {
			case strings.HasPrefix(f, "r="):
				nonce = f[2:]
			case strings.HasPrefix(f, "s="):
				salt64 = f[2:]
			case strings.HasPrefix(f, "i="):
				iters = f[2:]
			case strings.HasPrefix(f, "e="):
				return nil, false, fmt.Errorf("%w: %s", ErrServerRejected, f[2:])
			}
		}
		if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
			return nil, false, fmt.Errorf("%w: server nonce does not extend the client nonce", ErrServerRejected)
		}
		salt, err := base64.StdEncoding.DecodeString(salt64)
		if err != nil || len(salt) == 0 {
			return nil, false, fmt.Errorf("%w: bad salt", ErrServerRejected)
		}
		n, err := strconv.Atoi(iters)
		if err != nil || ValidateIterations(n) != nil {
			return nil, false, fmt.Errorf("%w: bad iteration count %q", ErrServerRejected, iters)
		}
		salted, err := c.mech.SaltedPassword(c.pass, salt, n)
		if err != nil {
			return nil, false, err
		}
		withoutProof := "c=biws,r=" + nonce
		authMessage := c.clientFirstBare + "," + serverFirst + "," + withoutProof
		clientKey := c.mech.hmac(salted, "Client Key")
		storedKey := c.mech.digest(clientKey)
		clientSig := c.mech.hmac(storedKey, authMessage)
		proof := make([]byte, len(clientKey))
		for i := range clientKey {
			proof[i] = clientKey[i] ^ clientSig[i]
		}
		c.serverSignature = c.mech.hmac(c.mech.hmac(salted, "Server Key"), authMessage)
		return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), false, nil
	case 2:
		c.step = 3
		msg := string(challenge)
		if e, ok := strings.CutPrefix(msg, "e="); ok {
			return nil, false, fmt.Errorf("%w: %s", ErrServerRejected, e)
		}
		v, ok := strings.CutPrefix(msg, "v=")
		if !ok {
			return nil, false, fmt.Errorf("%w: no server signature", ErrServerRejected)
		}
		if i := strings.IndexByte(v, ','); i >= 0 {
			v = v[:i]
		}
		sig, err := base64.StdEncoding.DecodeString(v)
		if err != nil || !hmac.Equal(sig, c.serverSignature) {
			return nil, false, fmt.Errorf("%w: server signature does not verify", ErrServerRejected)
		}
		return nil, true, nil
	}
	return nil, false, errors.New("sasl: scram client: exchange already complete")
}
