package dirconnector

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// Store is the example backend: a folder of JSON files. It plays the part a
// mailbox server or a CRM plays for a real connector, and its methods are
// that backend's public API, which tests use to make out-of-band changes.
//
// Layout:
//
//	<dir>/items/<scope>/<entity>/<id>.json   one item (see Item)
//	<dir>/journal.jsonl                      the change journal, one Change per line
//	<dir>/generation                         the journal's generation (random)
//	<dir>/journal.pending                    the change being written, if any
//	<dir>/.lock                              flock'd around every write
//
// Every write holds an exclusive lock on .lock, so the connector, tests and
// other processes never interleave; reads hold a shared lock.
type Store struct {
	dir string
}

// Item is one stored item, as written to its file.
type Item struct {
	ID             string     `json:"id"`
	Version        string     `json:"version"`
	Modified       time.Time  `json:"modified"`
	CorrelationKey string     `json:"correlation_key,omitempty"`
	Owner          string     `json:"owner"`
	Fields         sdk.Fields `json:"fields"`
}

// Key identifies an item across scopes; enumerations are sorted by it.
func (it Item) Key() string { return it.Owner + "/" + it.ID }

// Change is one line of the journal.
type Change struct {
	Seq            int64     `json:"seq"`
	Scope          string    `json:"scope"`
	Entity         string    `json:"entity"`
	ID             string    `json:"id"`
	Kind           string    `json:"kind"` // KindUpsert or KindDelete
	Version        string    `json:"version"`
	Modified       time.Time `json:"modified"`
	CorrelationKey string    `json:"correlation_key,omitempty"`
	RoutingKeys    []string  `json:"routing_keys,omitempty"`
}

// The kinds of Change.
const (
	KindUpsert = "upsert"
	KindDelete = "delete"
)

// Position is a place in the journal: its generation and a byte offset just
// after a complete line (or 0). Delta tokens encode one.
type Position struct {
	Generation string
	Offset     int64
}

// Errors of the store. A version mismatch is a *VersionMismatchError.
var (
	// ErrNotFound says that no item has that id.
	ErrNotFound = errors.New("item not found")
	// ErrExpired says that a journal position is not valid in the current
	// journal: another generation, past the end, or not at a line start.
	ErrExpired = errors.New("journal position is not valid")
	// ErrInvalidName says that a scope, entity or id cannot be a file name.
	ErrInvalidName = errors.New("invalid name")
)

// VersionMismatchError is returned when an If-Match version is not the
// item's current version.
type VersionMismatchError struct {
	Current string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("version mismatch: the item is at version %s", e.Current)
}

// Open opens the store in dir, creating the folder, its generation and its
// journal if they are missing.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open store: no folder given")
	}
	if err := os.MkdirAll(filepath.Join(dir, "items"), 0o755); err != nil {
		return nil, fmt.Errorf("create store folder: %w", err)
	}
	s := &Store{dir: dir}
	err := s.locked(true, func() error {
		if _, err := os.Stat(s.path("generation")); errors.Is(err, fs.ErrNotExist) {
			if err := writeFileAtomic(s.path("generation"), []byte(randomHex(8)+"\n")); err != nil {
				return fmt.Errorf("write generation: %w", err)
			}
		}
		f, err := os.OpenFile(s.path("journal.jsonl"), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("create journal: %w", err)
		}
		return f.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return s, nil
}

// Dir returns the store's folder.
func (s *Store) Dir() string { return s.dir }

// Get returns the item with that id in scope, or in any scope if scope is
// "". A missing item is ErrNotFound.
func (s *Store) Get(scope, entity, id string) (it Item, err error) {
	err = s.locked(false, func() error {
		it, err = s.get(scope, entity, id)
		return err
	})
	return it, err
}

// List returns the items of an entity in scope, or in every scope if scope
// is "", sorted by Key.
func (s *Store) List(scope, entity string) (items []Item, err error) {
	err = s.locked(false, func() error {
		items, err = s.list(scope, entity)
		return err
	})
	return items, err
}

// Create stores a new item owned by scope, with a random id and version 1,
// and journals it.
func (s *Store) Create(scope, entity, correlationKey string, fields sdk.Fields) (Item, error) {
	return s.create(scope, entity, correlationKey, fields, false)
}

// CreateOnce is Create, except that when an item of that entity in scope
// already carries correlationKey, it returns that item and writes nothing.
// Lookup and create happen under one lock, so two retries cannot both create.
func (s *Store) CreateOnce(scope, entity, correlationKey string, fields sdk.Fields) (Item, error) {
	return s.create(scope, entity, correlationKey, fields, correlationKey != "")
}

func (s *Store) create(scope, entity, key string, fields sdk.Fields, once bool) (it Item, err error) {
	if !validName(scope) || !validName(entity) {
		return it, fmt.Errorf("create in %q/%q: %w", scope, entity, ErrInvalidName)
	}
	err = s.locked(true, func() error {
		if once {
			items, err := s.list(scope, entity)
			if err != nil {
				return err
			}
			for _, x := range items {
				if x.CorrelationKey == key {
					it = x
					return nil
				}
			}
		}
		it = Item{ID: randomHex(16), Version: "1", Modified: now(), CorrelationKey: key, Owner: scope, Fields: fields}
		return s.put(entity, it)
	})
	return it, err
}

// Update replaces an item's fields, found in scope (any scope if ""), and
// bumps its version. A non-empty ifMatch must equal the current version.
func (s *Store) Update(scope, entity, id, ifMatch string, fields sdk.Fields) (it Item, err error) {
	err = s.locked(true, func() error {
		old, err := s.get(scope, entity, id)
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != old.Version {
			return &VersionMismatchError{Current: old.Version}
		}
		n, _ := strconv.ParseInt(old.Version, 10, 64)
		it = old
		it.Version, it.Modified, it.Fields = strconv.FormatInt(n+1, 10), now(), fields
		return s.put(entity, it)
	})
	return it, err
}

// Delete removes an item, found in scope (any scope if ""), and journals the
// delete. A non-empty ifMatch must equal the current version.
func (s *Store) Delete(scope, entity, id, ifMatch string) error {
	return s.locked(true, func() error {
		old, err := s.get(scope, entity, id)
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != old.Version {
			return &VersionMismatchError{Current: old.Version}
		}
		c := Change{Scope: old.Owner, Entity: entity, ID: id, Kind: KindDelete, Version: old.Version, Modified: now(),
			CorrelationKey: old.CorrelationKey, RoutingKeys: RoutingKeys(old.Owner, entity, old.Fields)}
		return s.commit(c, func() error {
			path := s.itemPath(old.Owner, entity, id)
			if err := os.Remove(path); err != nil {
				return err
			}
			return syncDir(filepath.Dir(path))
		})
	})
}

// Delta returns up to max changes (all if max < 0) of an entity in scope
// ("" for every scope) after token, the token to continue from, and whether
// more may follow. An empty token starts with every current item, as
// upserts, then follows the journal from where it stood before the listing
// began, so nothing falls between the two. A token is the journal's
// generation and a byte offset, plus, while the enumeration lasts, the last
// item's key: "gen:offset" or "gen:offset:key". It is valid until the
// journal rotates; a token that is not valid is ErrExpired.
func (s *Store) Delta(scope, entity, token string, max int) (changes []Change, next string, more bool, err error) {
	var pos Position
	after, enumerating := "", token == ""
	if enumerating {
		pos, err = s.Position()
	} else if pos, after, err = s.parseToken(token); err == nil {
		enumerating = after != ""
	}
	if err != nil {
		return nil, "", false, err
	}
	if enumerating {
		items, err := s.List(scope, entity)
		if err != nil {
			return nil, "", false, err
		}
		for _, it := range items {
			if it.Key() <= after {
				continue
			}
			if max >= 0 && len(changes) == max {
				return changes, pos.token(after), true, nil
			}
			changes = append(changes, Change{Scope: it.Owner, Entity: entity, ID: it.ID, Kind: KindUpsert, Version: it.Version,
				Modified: it.Modified, CorrelationKey: it.CorrelationKey, RoutingKeys: RoutingKeys(it.Owner, entity, it.Fields)})
			after = it.Key()
		}
		if max >= 0 {
			max -= len(changes)
		}
	}
	journal, end, more, err := s.readJournal(pos, max, func(c Change) bool {
		return c.Entity == entity && (scope == "" || c.Scope == scope)
	})
	if err != nil {
		return nil, "", false, err
	}
	return append(changes, journal...), end.token(""), more, nil
}

// CheckToken reports ErrExpired if token is not a valid Delta token now.
func (s *Store) CheckToken(token string) error {
	_, _, err := s.parseToken(token)
	return err
}

func (p Position) token(after string) string {
	t := p.Generation + ":" + strconv.FormatInt(p.Offset, 10)
	if after != "" {
		t += ":" + after
	}
	return t
}

func (s *Store) parseToken(token string) (Position, string, error) {
	parts := strings.SplitN(token, ":", 3)
	if len(parts) < 2 {
		return Position{}, "", fmt.Errorf("token %q is not this store's: %w", token, ErrExpired)
	}
	off, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return Position{}, "", fmt.Errorf("token %q is not this store's: %w", token, ErrExpired)
	}
	p := Position{Generation: parts[0], Offset: off}
	if err := s.checkPosition(p); err != nil {
		return Position{}, "", err
	}
	if len(parts) == 3 {
		return p, parts[2], nil
	}
	return p, "", nil
}

// Position returns the end of the journal: where a reader that has seen
// everything stands.
func (s *Store) Position() (p Position, err error) {
	err = s.locked(false, func() error {
		if p.Generation, err = s.generation(); err != nil {
			return err
		}
		f, err := os.Open(s.path("journal.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		p.Offset, _, err = journalTail(f)
		return err
	})
	return p, err
}

// checkPosition reports ErrExpired if p is not a valid position in the
// current journal.
func (s *Store) checkPosition(p Position) error {
	return s.locked(false, func() error {
		f, err := os.Open(s.path("journal.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		return s.check(f, p)
	})
}

func (s *Store) check(f *os.File, p Position) error {
	gen, err := s.generation()
	if err != nil {
		return err
	}
	if p.Generation != gen {
		return fmt.Errorf("generation %q is not the journal's %q: %w", p.Generation, gen, ErrExpired)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if p.Offset < 0 || p.Offset > st.Size() {
		return fmt.Errorf("offset %d outside the journal (%d bytes): %w", p.Offset, st.Size(), ErrExpired)
	}
	if p.Offset > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, p.Offset-1); err != nil {
			return err
		}
		if b[0] != '\n' {
			return fmt.Errorf("offset %d is not at the start of a line: %w", p.Offset, ErrExpired)
		}
	}
	return nil
}

// readJournal returns the changes after from for which match (if not nil)
// is true, at most max of them (no limit if max < 0), the position after the
// last line it consumed, and whether more matching lines may follow. A torn
// last line, left by a crash in the middle of an append, is not a change.
func (s *Store) readJournal(from Position, max int, match func(Change) bool) (changes []Change, next Position, more bool, err error) {
	next = from
	err = s.locked(false, func() error {
		f, err := os.Open(s.path("journal.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := s.check(f, from); err != nil {
			return err
		}
		if _, err := f.Seek(from.Offset, io.SeekStart); err != nil {
			return err
		}
		r := bufio.NewReader(f)
		for {
			line, err := r.ReadBytes('\n')
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			var c Change
			if err := json.Unmarshal(line, &c); err != nil {
				return fmt.Errorf("journal line at offset %d: %w", next.Offset, err)
			}
			if match == nil || match(c) {
				if max >= 0 && len(changes) == max {
					more = true
					return nil
				}
				changes = append(changes, c)
			}
			next.Offset += int64(len(line))
		}
	})
	return changes, next, more, err
}

// Rotate starts a new journal generation with an empty journal, as a backend
// does that forgets its change history: every position issued so far
// becomes ErrExpired. Items are kept.
func (s *Store) Rotate() error {
	return s.locked(true, func() error {
		// The new generation goes first: a crash before the truncation leaves
		// old lines under a new generation, which no position refers to.
		if err := writeFileAtomic(s.path("generation"), []byte(randomHex(8)+"\n")); err != nil {
			return fmt.Errorf("rotate journal: %w", err)
		}
		f, err := os.OpenFile(s.path("journal.jsonl"), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("rotate journal: %w", err)
		}
		defer f.Close()
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("rotate journal: %w", err)
		}
		return f.Sync()
	})
}

// RoutingKeys says which bindings a change concerns: the owner's, and for
// appointments and service appointments every attendee's and resource's.
func RoutingKeys(owner, entity string, fields sdk.Fields) []string {
	keys := []string{UserKey(owner)}
	if entity == "appointment" || entity == "service_appointment" {
		for _, list := range []string{"attendees", "resources"} {
			for _, p := range fields[list].ListVal() {
				if addr := p.MapVal()["address"].Str(); addr != "" {
					keys = append(keys, UserKey(addr))
				}
			}
		}
	}
	sort.Strings(keys)
	return compact(keys)
}

// UserKey is the routing key of a user (a scope or an address).
func UserKey(addr string) string { return "user:" + strings.ToLower(addr) }

// put writes an item and journals its upsert.
func (s *Store) put(entity string, it Item) error {
	data, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("encode item %s: %w", it.ID, err)
	}
	c := Change{Scope: it.Owner, Entity: entity, ID: it.ID, Kind: KindUpsert, Version: it.Version, Modified: it.Modified,
		CorrelationKey: it.CorrelationKey, RoutingKeys: RoutingKeys(it.Owner, entity, it.Fields)}
	path := s.itemPath(it.Owner, entity, it.ID)
	return s.commit(c, func() error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return writeFileAtomic(path, data)
	})
}

// commit makes one change durable in an order that keeps the journal honest:
// the intent (journal.pending) first, then the item file, then the journal
// line. A change is never journaled before it is readable, and one whose
// item was written but whose line was not is journaled by recoverPending on
// the next write.
func (s *Store) commit(c Change, write func() error) error {
	j, err := os.OpenFile(s.path("journal.jsonl"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer j.Close()
	end, seq, err := journalTail(j)
	if err != nil {
		return err
	}
	c.Seq = seq + 1
	intent, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path("journal.pending"), intent); err != nil {
		return fmt.Errorf("write intent: %w", err)
	}
	if err := write(); err != nil {
		os.Remove(s.path("journal.pending"))
		return fmt.Errorf("write %s %s: %w", c.Entity, c.ID, err)
	}
	if err := appendAt(j, end, c); err != nil {
		return err
	}
	return os.Remove(s.path("journal.pending"))
}

// recoverPending finishes a write that a crash interrupted: if the pending
// change did happen (the item is at that version, or gone for a delete) and
// is not journaled yet, it journals it; otherwise it drops the intent.
func (s *Store) recoverPending() error {
	data, err := os.ReadFile(s.path("journal.pending"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read intent: %w", err)
	}
	var c Change
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("read intent: %w", err)
	}
	it, err := s.get(c.Scope, c.Entity, c.ID)
	happened := (c.Kind == KindDelete && errors.Is(err, ErrNotFound)) ||
		(c.Kind == KindUpsert && err == nil && it.Version == c.Version)
	if happened {
		j, err := os.OpenFile(s.path("journal.jsonl"), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
		defer j.Close()
		end, seq, err := journalTail(j)
		if err != nil {
			return err
		}
		if seq < c.Seq {
			if err := appendAt(j, end, c); err != nil {
				return err
			}
		}
	}
	return os.Remove(s.path("journal.pending"))
}

// appendAt writes c as a line at end, first cutting off whatever follows
// end: a torn line from a crash is overwritten, never continued.
func appendAt(j *os.File, end int64, c Change) error {
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := j.Truncate(end); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if _, err := j.WriteAt(append(line, '\n'), end); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := j.Sync(); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	return nil
}

// journalTail returns the offset just past the journal's last complete line
// and that line's seq, reading backwards from the end.
func journalTail(f *os.File) (end, seq int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	var buf []byte // the file's bytes from pos to its end
	for pos := st.Size(); ; {
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			if j := bytes.LastIndexByte(buf[:i], '\n'); j >= 0 || pos == 0 {
				var c Change
				if err := json.Unmarshal(buf[j+1:i], &c); err != nil {
					return 0, 0, fmt.Errorf("journal's last line: %w", err)
				}
				return pos + int64(i) + 1, c.Seq, nil
			}
		} else if pos == 0 {
			return 0, 0, nil
		}
		n := min(pos, 4096)
		pos -= n
		chunk := make([]byte, n)
		if _, err := f.ReadAt(chunk, pos); err != nil {
			return 0, 0, fmt.Errorf("read journal: %w", err)
		}
		buf = append(chunk, buf...)
	}
}

func (s *Store) get(scope, entity, id string) (Item, error) {
	if !validName(entity) || !validName(id) || (scope != "" && !validName(scope)) {
		return Item{}, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
	}
	scopes := []string{scope}
	if scope == "" {
		var err error
		if scopes, err = dirNames(s.path("items")); err != nil {
			return Item{}, err
		}
	}
	for _, sc := range scopes {
		it, err := readItem(s.itemPath(sc, entity, id))
		if !errors.Is(err, ErrNotFound) {
			return it, err
		}
	}
	return Item{}, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
}

func (s *Store) list(scope, entity string) ([]Item, error) {
	scopes := []string{scope}
	if scope == "" {
		var err error
		if scopes, err = dirNames(s.path("items")); err != nil {
			return nil, err
		}
	}
	var items []Item
	for _, sc := range scopes {
		names, err := dirNames(filepath.Join(s.dir, "items", sc, entity))
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
				continue // a temporary file from an interrupted write
			}
			it, err := readItem(filepath.Join(s.dir, "items", sc, entity, name))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Key() < items[j].Key() })
	return items, nil
}

func readItem(path string) (Item, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, err
	}
	var it Item
	if err := json.Unmarshal(data, &it); err != nil {
		return Item{}, fmt.Errorf("read item %s: %w", path, err)
	}
	return it, nil
}

// dirNames lists a folder's entries; a missing folder has none.
func dirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

func (s *Store) generation() (string, error) {
	b, err := os.ReadFile(s.path("generation"))
	if err != nil {
		return "", fmt.Errorf("read generation: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// locked runs fn holding the store's lock, exclusive for writes. A writer
// first finishes any write a crash interrupted.
func (s *Store) locked(exclusive bool, fn func() error) error {
	unlock, err := lockFile(s.path(".lock"), exclusive)
	if err != nil {
		return fmt.Errorf("lock %s: %w", s.dir, err)
	}
	defer unlock()
	if exclusive {
		if err := s.recoverPending(); err != nil {
			return err
		}
	}
	return fn()
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

func (s *Store) itemPath(scope, entity, id string) string {
	return filepath.Join(s.dir, "items", scope, entity, id+".json")
}

// validName reports whether s can be one path element: ids come from the
// gateway and scopes from the operator, and must not climb out of the store.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, "/\\\x00")
}

// writeFileAtomic replaces path with data so that a reader (or a crash) sees
// either the old content or the new, never a mix: temporary file, fsync,
// rename, fsync of the folder.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func now() time.Time { return time.Now().UTC() }

func compact(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
