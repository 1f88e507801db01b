package dataverseemu

import (
	"encoding/json"
	"net/http"
	"time"
)

// faultsJSON is Faults over the control API, with the latency in
// milliseconds.
type faultsJSON struct {
	ThrottleShare float64 `json:"throttleShare"`
	ErrorShare    float64 `json:"errorShare"`
	LatencyMs     int64   `json:"latencyMs"`
}

// serveControl is the control API: it needs no token, since it is how a test
// or an operator steers the emulator.
//
//	GET/POST /_emulator/faults          read / replace injected faults
//	POST     /_emulator/expire-tokens   expire every delta token issued so far
//	POST     /_emulator/expire-access-tokens  revoke every bearer token
//	POST     /_emulator/plugin-error    {"entitySet","message"}: fail creates like a plug-in
//	GET      /_emulator/counters        request counters
//	GET      /_emulator/users           the provisioned users and their ids
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /_emulator/faults":
		e.mu.Lock()
		f := e.faults
		e.mu.Unlock()
		writePlainJSON(w, http.StatusOK, faultsJSON{f.ThrottleShare, f.ErrorShare, f.Latency.Milliseconds()})
	case "POST /_emulator/faults":
		var f faultsJSON
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			controlError(w, http.StatusBadRequest, `the body must be {"throttleShare":0.1,"errorShare":0.05,"latencyMs":20}: `+err.Error())
			return
		}
		if f.ThrottleShare < 0 || f.ErrorShare < 0 || f.ThrottleShare+f.ErrorShare > 1 || f.LatencyMs < 0 {
			controlError(w, http.StatusBadRequest, "throttleShare and errorShare must be between 0 and 1 and add up to at most 1; latencyMs must not be negative")
			return
		}
		e.SetFaults(Faults{ThrottleShare: f.ThrottleShare, ErrorShare: f.ErrorShare, Latency: time.Duration(f.LatencyMs) * time.Millisecond})
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/expire-tokens":
		e.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/expire-access-tokens":
		e.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/plugin-error":
		var p struct{ EntitySet, Message string }
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || e.schema[p.EntitySet] == nil {
			controlError(w, http.StatusBadRequest, `the body must be {"entitySet":"contacts","message":"..."} naming an emulated entity set`)
			return
		}
		e.SetPluginError(p.EntitySet, p.Message)
		w.WriteHeader(http.StatusNoContent)
	case "GET /_emulator/counters":
		c := e.Counters()
		writePlainJSON(w, http.StatusOK, map[string]any{"requests": c.Requests, "throttled": c.Throttled, "maxConcurrent": c.MaxConcurrent})
	case "GET /_emulator/users":
		writePlainJSON(w, http.StatusOK, e.Users())
	default:
		controlError(w, http.StatusNotFound, "unknown control route "+route+"; see the dataverseemu README for /_emulator/faults, expire-tokens, expire-access-tokens, plugin-error, counters, users")
	}
}

func controlError(w http.ResponseWriter, status int, msg string) {
	writePlainJSON(w, status, map[string]string{"error": msg})
}
