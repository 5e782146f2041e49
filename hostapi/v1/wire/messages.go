package wire

import (
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// The encodings of the hostapi types, field by field in ABI.md's order. Fields may
// only ever be appended.

// PutManifest encodes m.
func PutManifest(e *Encoder, m hostapi.Manifest) {
	e.String(m.Name)
	e.String(string(m.Kind))
	e.String(m.APIVersion)
	e.Strings(m.Capabilities)
	e.Uint(uint64(len(m.Config)))
	for _, f := range m.Config {
		e.String(f.Name)
		e.String(string(f.Type))
		e.Bool(f.Required)
		e.String(f.Doc)
	}
}

// GetManifest decodes a manifest.
func GetManifest(d *Decoder) hostapi.Manifest {
	m := hostapi.Manifest{
		Name:         d.String(),
		Kind:         hostapi.Kind(d.String()),
		APIVersion:   d.String(),
		Capabilities: d.Strings(),
	}
	n := d.Uint()
	if n > uint64(len(d.buf)) {
		d.fail("config schema length")
		return m
	}
	for range n {
		m.Config = append(m.Config, hostapi.ConfigField{
			Name: d.String(), Type: hostapi.ConfigType(d.String()), Required: d.Bool(), Doc: d.String(),
		})
	}
	return m
}

// PutEvent encodes ev.
func PutEvent(e *Encoder, ev hostapi.Event) {
	e.Int(ev.ID)
	e.Time(ev.Time)
	e.String(ev.Type)
	e.String(ev.Protocol)
	e.String(ev.Account)
	e.String(ev.Path)
	e.String(ev.From)
	e.Int(ev.Size)
	e.String(ev.SHA256)
	e.String(ev.RemoteAddr)
	e.Bool(ev.IsDir)
	// Host API 1.2: appended, so a plugin built for 1.0 or 1.1 ignores them (its decoder
	// stops after is_dir) and a 1.1 host's events decode here with both 0.
	e.Int(ev.Done)
	e.Int(ev.Total)
}

// GetEvent decodes an event.
func GetEvent(d *Decoder) hostapi.Event {
	return hostapi.Event{
		ID: d.Int(), Time: d.Time(), Type: d.String(), Protocol: d.String(), Account: d.String(),
		Path: d.String(), From: d.String(), Size: d.Int(), SHA256: d.String(),
		RemoteAddr: d.String(), IsDir: d.Bool(), Done: d.Int(), Total: d.Int(),
	}
}

// PutRun encodes a scheduled run.
func PutRun(e *Encoder, r hostapi.Run) { e.String(r.Rule); e.Time(r.Time) }

// GetRun decodes a scheduled run.
func GetRun(d *Decoder) hostapi.Run { return hostapi.Run{Rule: d.String(), Time: d.Time()} }

// PutLogin encodes a login.
func PutLogin(e *Encoder, l hostapi.Login) {
	e.String(l.Protocol)
	e.String(l.Username)
	e.String(l.Password)
	e.Blob(l.PublicKey)
	e.String(l.RemoteAddr)
}

// GetLogin decodes a login.
func GetLogin(d *Decoder) hostapi.Login {
	return hostapi.Login{Protocol: d.String(), Username: d.String(), Password: d.String(),
		PublicKey: d.Blob(), RemoteAddr: d.String()}
}

// PutLoginResult encodes a login result.
func PutLoginResult(e *Encoder, r hostapi.LoginResult) {
	e.Uint(uint64(r.Verdict))
	e.String(r.Reason)
	e.String(r.Chroot)
	e.String(r.AccessRights)
}

// GetLoginResult decodes a login result.
func GetLoginResult(d *Decoder) hostapi.LoginResult {
	v := d.Uint()
	if v > uint64(hostapi.VerdictDeny) {
		d.fail("verdict")
	}
	return hostapi.LoginResult{Verdict: hostapi.Verdict(v), Reason: d.String(), Chroot: d.String(),
		AccessRights: d.String()}
}

// PutOperation encodes an operation.
func PutOperation(e *Encoder, o hostapi.Operation) {
	e.String(o.Protocol)
	e.String(o.Account)
	e.String(o.Action)
	e.String(o.Path)
	e.String(o.To)
	e.Int(o.Size)
}

// GetOperation decodes an operation.
func GetOperation(d *Decoder) hostapi.Operation {
	return hostapi.Operation{Protocol: d.String(), Account: d.String(), Action: d.String(),
		Path: d.String(), To: d.String(), Size: d.Int()}
}

// PutDecision encodes a decision.
func PutDecision(e *Encoder, dec hostapi.Decision) { e.Bool(dec.Allow); e.String(dec.Reason) }

// GetDecision decodes a decision.
func GetDecision(d *Decoder) hostapi.Decision {
	return hostapi.Decision{Allow: d.Bool(), Reason: d.String()}
}

// PutFileInfo encodes a FileInfo.
func PutFileInfo(e *Encoder, fi hostapi.FileInfo) {
	e.String(fi.Name)
	e.Int(fi.Size)
	e.Time(fi.ModTime)
	e.Bool(fi.IsDir)
}

// GetFileInfo decodes a FileInfo.
func GetFileInfo(d *Decoder) hostapi.FileInfo {
	return hostapi.FileInfo{Name: d.String(), Size: d.Int(), ModTime: d.Time(), IsDir: d.Bool()}
}

// PutListOptions encodes list options.
func PutListOptions(e *Encoder, o hostapi.ListOptions) {
	e.Int(int64(o.Limit))
	e.String(o.Cursor)
	e.String(o.Prefix)
	e.Bool(o.DirsOnly)
	e.Bool(o.FilesOnly)
}

// GetListOptions decodes list options.
func GetListOptions(d *Decoder) hostapi.ListOptions {
	return hostapi.ListOptions{Limit: int(d.Int()), Cursor: d.String(), Prefix: d.String(),
		DirsOnly: d.Bool(), FilesOnly: d.Bool()}
}

// PutListPage encodes a page of a listing.
func PutListPage(e *Encoder, p hostapi.ListPage) {
	e.Uint(uint64(len(p.Entries)))
	for _, fi := range p.Entries {
		PutFileInfo(e, fi)
	}
	e.String(p.NextCursor)
}

// GetListPage decodes a page of a listing.
func GetListPage(d *Decoder) hostapi.ListPage {
	var p hostapi.ListPage
	n := d.Uint()
	if n > uint64(len(d.buf)) {
		d.fail("entry count")
		return p
	}
	p.Entries = make([]hostapi.FileInfo, 0, n)
	for range n {
		p.Entries = append(p.Entries, GetFileInfo(d))
	}
	p.NextCursor = d.String()
	return p
}

func putHeaders(e *Encoder, hs []hostapi.Header) {
	e.Uint(uint64(len(hs)))
	for _, h := range hs {
		e.String(h.Name)
		e.String(h.Value)
	}
}

func getHeaders(d *Decoder) []hostapi.Header {
	n := d.Uint()
	if n > uint64(len(d.buf)) {
		d.fail("header count")
		return nil
	}
	var hs []hostapi.Header
	for range n {
		hs = append(hs, hostapi.Header{Name: d.String(), Value: d.String()})
	}
	return hs
}

// PutHTTPRequest encodes an outbound request.
func PutHTTPRequest(e *Encoder, r hostapi.HTTPRequest) {
	e.String(r.Method)
	e.String(r.URL)
	putHeaders(e, r.Header)
	e.Blob(r.Body)
}

// GetHTTPRequest decodes an outbound request.
func GetHTTPRequest(d *Decoder) hostapi.HTTPRequest {
	return hostapi.HTTPRequest{Method: d.String(), URL: d.String(), Header: getHeaders(d), Body: d.Blob()}
}

// PutHTTPResponse encodes a response.
func PutHTTPResponse(e *Encoder, r hostapi.HTTPResponse) {
	e.Int(int64(r.Status))
	putHeaders(e, r.Header)
	e.Blob(r.Body)
	e.Bool(r.Truncated)
}

// GetHTTPResponse decodes a response.
func GetHTTPResponse(d *Decoder) hostapi.HTTPResponse {
	return hostapi.HTTPResponse{Status: int(d.Int()), Header: getHeaders(d), Body: d.Blob(), Truncated: d.Bool()}
}
