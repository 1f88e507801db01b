package graphemu

import (
	"encoding/json"
	"net/http"
	"time"
)

// faultsJSON is Faults over HTTP, with the latency in milliseconds.
type faultsJSON struct {
	ThrottleShare     float64 `json:"throttleShare"`
	ErrorShare        float64 `json:"errorShare"`
	LatencyMs         float64 `json:"latencyMs"`
	DropNotifications bool    `json:"dropNotifications"`
}

// control serves the control API, which is not part of Graph and needs no
// token:
//
//	GET|POST /_emulator/faults          the injected faults (faultsJSON)
//	POST     /_emulator/expire-delta-tokens
//	POST     /_emulator/lifecycle       {"subscriptionId": "...", "event": "missed"}
//	GET      /_emulator/counters
func (e *Emulator) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /_emulator/faults":
		e.mu.Lock()
		f := e.faults
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, faultsJSON{f.ThrottleShare, f.ErrorShare, float64(f.Latency) / float64(time.Millisecond), f.DropNotifications})
	case "POST /_emulator/faults":
		var f faultsJSON
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", "faults: "+err.Error()+`; expected {"throttleShare": 0.1, "errorShare": 0.05, "latencyMs": 20, "dropNotifications": false}`)
			return
		}
		if f.ThrottleShare < 0 || f.ThrottleShare > 1 || f.ErrorShare < 0 || f.ErrorShare > 1 || f.LatencyMs < 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "faults: throttleShare and errorShare must be between 0 and 1, latencyMs at least 0.")
			return
		}
		e.SetFaults(Faults{f.ThrottleShare, f.ErrorShare, time.Duration(f.LatencyMs * float64(time.Millisecond)), f.DropNotifications})
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/expire-delta-tokens":
		e.ExpireDeltaTokens()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/lifecycle":
		var req struct {
			SubscriptionID string `json:"subscriptionId"`
			Event          string `json:"event"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", `lifecycle: `+err.Error()+`; expected {"subscriptionId": "...", "event": "reauthorizationRequired|subscriptionRemoved|missed"}`)
			return
		}
		if err := e.Lifecycle(req.SubscriptionID, req.Event); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "GET /_emulator/counters":
		writeJSON(w, http.StatusOK, e.Counters())
	default:
		writeError(w, http.StatusNotFound, "NotFound", "The control API has GET/POST /_emulator/faults, POST /_emulator/expire-delta-tokens, POST /_emulator/lifecycle and GET /_emulator/counters; not "+r.Method+" "+r.URL.Path+".")
	}
}
