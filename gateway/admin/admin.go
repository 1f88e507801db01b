// Package admin is the gateway's HTTP admin API: JSON over HTTP, on
// loopback by default, behind a bearer token that the gateway writes into
// its data_dir (mode 0600) at first start. It also serves /hooks/<endpoint>,
// where backends deliver change notifications (no token there: the
// connector validates them), and hands them to the endpoint's connector.
//
// It holds no state of its own: it reads the store and calls the engine.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncgate/syncgate/gateway/engine"
	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/gateway/web"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// TokenFile is the token's file name in data_dir.
const TokenFile = "admin.token"

// LoadOrCreateToken returns the admin token in dataDir, creating it (mode
// 0600) at first start.
func LoadOrCreateToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, TokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if tok := strings.TrimSpace(string(b)); len(tok) >= 32 {
			return tok, nil
		}
		return "", fmt.Errorf("%s holds no valid token: delete it and restart the gateway to make a new one", path)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(tok + "\n"); err != nil {
		return "", err
	}
	return tok, f.Sync()
}

// Server is the admin API of one running gateway.
type Server struct {
	Token  string
	Logger hclog.Logger
	// Registry, when set, is served at /metrics (see NewRegistry).
	Registry *prometheus.Registry

	mu   sync.Mutex
	eng  *engine.Engine
	sups map[string]*host.Supervisor
}

// Use points the API at an engine and its connectors; a config reload
// calls it again with the new ones.
func (s *Server) Use(eng *engine.Engine, sups map[string]*host.Supervisor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eng, s.sups = eng, sups
}

func (s *Server) current() (*engine.Engine, map[string]*host.Supervisor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng, s.sups
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.auth(s.status))
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /v1/blocked", s.auth(list[store.Blocked](s, store.BlockedPrefix)))
	mux.HandleFunc("GET /v1/conflicts", s.auth(list[store.Conflict](s, store.ConflictPrefix)))
	mux.HandleFunc("GET /v1/recent", s.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.engine().Stats().Recent())
	}))
	mux.HandleFunc("GET /v1/dead-letters", s.auth(list[store.DeadLetter](s, store.DeadLetterPrefix)))
	mux.HandleFunc("POST /v1/bindings/{binding}/pause", s.auth(s.pause))
	mux.HandleFunc("POST /v1/bindings/{binding}/resume", s.auth(s.resume))
	mux.HandleFunc("POST /v1/bindings/{binding}/resync", s.auth(s.resync))
	mux.HandleFunc("POST /v1/dead-letters/{binding}/{seq}/retry", s.auth(s.retry))
	mux.HandleFunc("POST /v1/dead-letters/{binding}/{seq}/drop", s.auth(s.drop))
	mux.HandleFunc("GET /v1/backup", s.auth(s.backup))
	mux.HandleFunc("GET /v1/tombstones", s.auth(s.tombstones))
	mux.HandleFunc("POST /v1/undelete/{item}", s.auth(s.undelete))
	mux.HandleFunc("/hooks/{endpoint}", s.hook)
	// The status page and its assets load without the token; the page
	// then calls the routes above with it.
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET "+web.AssetPrefix, page)
	mux.HandleFunc("/", s.auth(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	}))
	return mux
}

// Serve listens on addr until ctx ends.
func (s *Server) Serve(ctx context.Context, addr string) (net.Addr, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin API: listen on %s: %w (set gateway { admin_listen = \"127.0.0.1:PORT\" })", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go srv.Serve(lis)
	return lis.Addr(), nil
}

// auth lets a request through only with the bearer token; anything else
// gets 401 and nothing more.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="syncgate"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer <the token in data_dir/"+TokenFile+">")
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// BindingStatus is one binding in /v1/status.
type BindingStatus struct {
	Name         string                     `json:"name"`
	Paused       bool                       `json:"paused"`
	PausedReason string                     `json:"paused_reason,omitempty"`
	Queued       int                        `json:"queued"`
	Retrying     int                        `json:"retrying"`
	Blocked      int                        `json:"blocked"`
	DeadLetters  int                        `json:"dead_letters"`
	Entities     map[string]engine.Counters `json:"entities"`
}

// Status is /v1/status.
type Status struct {
	Bindings  []BindingStatus `json:"bindings"`
	Endpoints []host.Status   `json:"endpoints"`
	// Held lists the endpoints whose connector refused its credentials or
	// configuration: nothing goes to them until they work again.
	Held map[string]string `json:"held_endpoints,omitempty"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	eng, sups := s.current()
	st, err := Collect(eng.DB(), eng.BindingNames(), eng.Stats().Snapshot())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	for _, name := range slices.Sorted(maps.Keys(sups)) {
		st.Endpoints = append(st.Endpoints, sups[name].Status())
	}
	st.Held = eng.HeldEndpoints()
	writeJSON(w, http.StatusOK, st)
}

// Collect reads every binding's status from the store; counters may be
// nil (a stopped gateway has none).
func Collect(db *store.DB, bindings []string, counters map[string]map[string]engine.Counters) (*Status, error) {
	st := &Status{}
	err := db.View(func(tx *store.Tx) error {
		for _, b := range bindings {
			bs := BindingStatus{Name: b, Entities: counters[b]}
			if err := store.Scan(tx, store.QueuePrefix(b), func(_ []byte, c *store.Change) bool {
				bs.Queued++
				if c.Attempts > 0 {
					bs.Retrying++
				}
				return true
			}); err != nil {
				return err
			}
			bs.Blocked = tx.CountKeys(store.BlockedPrefix(b))
			bs.DeadLetters = tx.CountKeys(store.DeadLetterPrefix(b))
			state, err := tx.BindingState(b)
			if err != nil {
				return err
			}
			bs.Paused, bs.PausedReason = state.Paused, state.PausedReason
			st.Bindings = append(st.Bindings, bs)
		}
		return nil
	})
	return st, err
}

// list serves the records of one kind under each binding (or the one named
// with ?binding=): blocked changes, conflicts, dead letters.
func list[T any](s *Server, prefix func(binding string) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := listUnder[T](s.engine().DB(), s.bindingsOf(r), prefix)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) bindingsOf(r *http.Request) []string {
	if b := r.URL.Query().Get("binding"); b != "" {
		return []string{b}
	}
	return s.engine().BindingNames()
}

func listUnder[T any](db *store.DB, bindings []string, prefix func(string) []byte) ([]T, error) {
	out := []T{}
	err := db.View(func(tx *store.Tx) error {
		for _, b := range bindings {
			if err := store.Scan(tx, prefix(b), func(_ []byte, v *T) bool { out = append(out, *v); return true }); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	reason := r.URL.Query().Get("reason")
	if reason == "" {
		reason = "paused by an operator"
	}
	s.act(w, r.PathValue("binding"), "paused", s.engine().PauseBinding(r.PathValue("binding"), reason))
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	b := r.PathValue("binding")
	if !slices.Contains(s.engine().BindingNames(), b) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no binding %q", b))
		return
	}
	d := engine.HoldDeletes
	switch r.URL.Query().Get("deletes") {
	case "":
	case "allow":
		d = engine.AllowDeletes
	case "untrack":
		d = engine.UntrackDeletes
	default:
		writeError(w, http.StatusBadRequest, "deletes must be allow or untrack")
		return
	}
	s.act(w, b, "resumed", s.engine().Resume(b, d))
}

func (s *Server) resync(w http.ResponseWriter, r *http.Request) {
	s.act(w, r.PathValue("binding"), "resync started", s.engine().Resync(r.PathValue("binding")))
}

func (s *Server) tombstones(w http.ResponseWriter, r *http.Request) {
	list, err := s.engine().Tombstones()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []store.Tombstone{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) undelete(w http.ResponseWriter, r *http.Request) {
	s.act(w, r.PathValue("item"), "undeleted", s.engine().Undelete(r.Context(), r.PathValue("item")))
}

func (s *Server) retry(w http.ResponseWriter, r *http.Request) {
	s.onDeadLetter(w, r, "requeued", s.engine().RetryDeadLetter)
}

func (s *Server) drop(w http.ResponseWriter, r *http.Request) {
	s.onDeadLetter(w, r, "dropped", s.engine().DropDeadLetter)
}

func (s *Server) onDeadLetter(w http.ResponseWriter, r *http.Request, done string, fn func(binding string, seq uint64) error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the dead letter's number must be an integer")
		return
	}
	s.act(w, r.PathValue("binding"), done, fn(r.PathValue("binding"), seq))
}

func (s *Server) act(w http.ResponseWriter, binding, done string, err error) {
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case strings.HasPrefix(err.Error(), "no "):
			status = http.StatusNotFound
		case errors.Is(err, engine.ErrDeletesHeld):
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	s.Logger.Info("admin action", "binding", binding, "action", done)
	writeJSON(w, http.StatusOK, map[string]string{"binding": binding, "result": done})
}

// backup streams a consistent copy of the database while the gateway runs.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="syncgate.backup"`)
	if err := s.engine().DB().Backup(w); err != nil {
		s.Logger.Error("backup failed", "error", err)
	}
}

// hook hands a backend notification to its endpoint's connector, answers
// the backend what the connector says, and wakes the feeds it names.
func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	ep := r.PathValue("endpoint")
	_, sups := s.current()
	sup := sups[ep]
	if sup == nil {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	req := sdk.WebhookRequest{Method: r.Method, Path: r.URL.Path, Query: map[string]string{}, Headers: map[string]string{}, Body: body}
	for k, v := range r.URL.Query() {
		req.Query[k] = v[0]
	}
	for k, v := range r.Header {
		req.Headers[k] = v[0]
	}
	inst := sup.Instance()
	if inst == nil || !inst.Has("webhook") {
		http.Error(w, "this endpoint takes no notifications", http.StatusNotFound)
		return
	}
	var res sdk.WebhookResponse
	err = sup.Do(r.Context(), "HandleWebhook", func(ctx context.Context, c *protocol.Client) (e error) {
		res, e = c.HandleWebhook(ctx, req)
		return e
	})
	if err != nil {
		s.Logger.Warn("notification not handled", "endpoint", ep, "error", err)
		http.Error(w, "notification not handled", http.StatusServiceUnavailable)
		return
	}
	for _, h := range res.Hints {
		s.engine().Hint(ep, h.Feed)
	}
	for k, v := range res.Headers {
		w.Header().Set(k, v)
	}
	if res.Status == 0 {
		res.Status = http.StatusAccepted
	}
	w.WriteHeader(res.Status)
	w.Write(res.Body)
}

func (s *Server) engine() *engine.Engine {
	eng, _ := s.current()
	return eng
}
