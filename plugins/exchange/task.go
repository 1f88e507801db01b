package exchange

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// graphTask is the part of a To Do task that syncgate reads. A todoTask has
// no extended properties and no changeKey: the syncgate id lives in a
// linkedResource, and versions are @odata.etag.
type graphTask struct {
	ID              string           `json:"id"`
	ETag            string           `json:"@odata.etag"`
	LastModified    string           `json:"lastModifiedDateTime"`
	Title           *string          `json:"title"`
	Body            *itemBody        `json:"body"`
	StartDateTime   *dateTimeZone    `json:"startDateTime"`
	DueDateTime     *dateTimeZone    `json:"dueDateTime"`
	CompletedAt     *dateTimeZone    `json:"completedDateTime"`
	Status          string           `json:"status"`
	Importance      string           `json:"importance"`
	IsReminderOn    bool             `json:"isReminderOn"`
	ReminderAt      *dateTimeZone    `json:"reminderDateTime"`
	Categories      []string         `json:"categories"`
	LinkedResources []linkedResource `json:"linkedResources"`
}

type linkedResource struct {
	ID              string `json:"id,omitempty"`
	ApplicationName string `json:"applicationName,omitempty"`
	DisplayName     string `json:"displayName,omitempty"`
	ExternalID      string `json:"externalId,omitempty"`
	WebURL          string `json:"webUrl,omitempty"`
}

// The linked resources syncgate writes: its id, and the CRM record the
// task is about (externalId "entity/id", displayName its name).
const (
	appSyncgate  = "syncgate"
	appRegarding = "syncgate-regarding"
)

var taskStatusNames = map[string]string{"notStarted": "not_started", "inProgress": "in_progress", "waitingOnOthers": "waiting"}

func (t *graphTask) linked(app string) *linkedResource {
	for i := range t.LinkedResources {
		if t.LinkedResources[i].ApplicationName == app {
			return &t.LinkedResources[i]
		}
	}
	return nil
}

// taskFields maps a To Do task to the canonical task. To Do keeps its
// times in UTC whatever zone they were written in, so they read back in
// UTC; it has no percentage.
func taskFields(t *graphTask) sdk.Fields {
	f := sdk.Fields{}
	setStr(f, "subject", t.Title)
	if t.Body != nil && t.Body.Content != "" {
		f["body"] = sdk.String(t.Body.Content)
		f["body_type"] = sdk.String("text")
		if strings.EqualFold(t.Body.ContentType, "html") {
			f["body_type"] = sdk.String("html")
		}
	}
	for name, dt := range map[string]*dateTimeZone{"start": t.StartDateTime, "due": t.DueDateTime, "completed_at": t.CompletedAt} {
		if v, ok := graphTime(dt, zoneOf(dt)); ok {
			f[name] = v
		}
	}
	if t.IsReminderOn {
		if v, ok := graphTime(t.ReminderAt, zoneOf(t.ReminderAt)); ok {
			f["reminder"] = v
		}
	}
	if t.Status != "" {
		f["status"] = sdk.String(toCanon(taskStatusNames, t.Status))
	}
	if t.Importance != "" {
		f["importance"] = sdk.String(t.Importance)
	}
	if len(t.Categories) > 0 {
		f["categories"] = sdk.Strings(t.Categories...)
	}
	if r := t.linked(appRegarding); r != nil {
		entity, id, _ := strings.Cut(r.ExternalID, "/")
		b, _ := json.Marshal(reference{Entity: entity, ID: id, Name: r.DisplayName})
		if ref := referenceValue(string(b)); !ref.IsNull() {
			f["regarding"] = ref
		}
	}
	return f
}

// zoneOf is the IANA zone a dateTimeTimeZone is written in ("" for UTC).
func zoneOf(dt *dateTimeZone) string {
	if dt == nil {
		return ""
	}
	z, _ := ianaZone(dt.TimeZone)
	return z
}

// taskBody maps canonical fields to the To Do properties to write.
func taskBody(f sdk.Fields) map[string]any {
	b := map[string]any{}
	if v, ok := f["subject"]; ok {
		b["title"] = v.Str() // a task must have a title: null writes an empty one
	}
	if v, ok := f["body"]; ok {
		ct := "text"
		if f["body_type"].Str() == "html" {
			ct = "html"
		}
		b["body"] = itemBody{ContentType: ct, Content: v.Str()}
	}
	for name, prop := range map[string]string{"start": "startDateTime", "due": "dueDateTime", "completed_at": "completedDateTime"} {
		if v, ok := f[name]; ok {
			if v.IsNull() {
				b[prop] = nil
			} else {
				b[prop] = toGraphTime(v)
			}
		}
	}
	if v, ok := f["reminder"]; ok {
		b["isReminderOn"] = !v.IsNull()
		if !v.IsNull() {
			b["reminderDateTime"] = toGraphTime(v)
		}
	}
	if v, ok := f["status"]; ok {
		st := fromCanon(taskStatusNames, v.Str())
		if v.IsNull() {
			st = "notStarted"
		}
		b["status"] = st
	}
	if v, ok := f["importance"]; ok {
		imp := v.Str()
		if v.IsNull() {
			imp = "normal"
		}
		b["importance"] = imp
	}
	if v, ok := f["categories"]; ok {
		b["categories"] = stringList(v)
	}
	return b
}

func regardingResource(v sdk.Value) *linkedResource {
	if v.IsNull() {
		return nil
	}
	m := v.MapVal()
	return &linkedResource{ApplicationName: appRegarding, ExternalID: m["entity"].Str() + "/" + m["id"].Str(), DisplayName: m["name"].Str()}
}

// ---- feed, fetch, apply ----

// taskList resolves the mailbox's default To Do list.
func taskList(ctx context.Context, s *state, mailbox string) (string, error) {
	return s.resolveOnce("list/"+mailbox, func() (string, error) {
		var page struct {
			Value []struct {
				ID          string `json:"id"`
				DisplayName string `json:"displayName"`
				WellKnown   string `json:"wellknownListName"`
			} `json:"value"`
		}
		if _, err := s.g.do(ctx, call{method: "GET", path: userPath(mailbox) + "/todo/lists", mailbox: mailbox}, &page); err != nil {
			return "", err
		}
		for _, l := range page.Value {
			if l.WellKnown == "defaultList" {
				return l.ID, nil
			}
		}
		return "", sdk.NewError(sdk.ErrPermanent, "mailbox %s has no default To Do list (wellknownListName defaultList): open To Do once for the mailbox", mailbox)
	})
}

func tasksPath(ctx context.Context, s *state, mailbox string) (string, error) {
	list, err := taskList(ctx, s, mailbox)
	if err != nil {
		return "", err
	}
	return userPath(mailbox) + "/todo/lists/" + url.PathEscape(list) + "/tasks", nil
}

func taskPath(ctx context.Context, s *state, mailbox, id string) (string, error) {
	p, err := tasksPath(ctx, s, mailbox)
	return p + "/" + url.PathEscape(id), err
}

func tasksStart(ctx context.Context, _ *Connector, s *state, mailbox string) (string, string, error) {
	p, err := tasksPath(ctx, s, mailbox)
	return p + "/delta", "", err
}

func taskRecords(ctx context.Context, _ *Connector, s *state, mailbox string, entries []deltaEntry) ([]sdk.ChangeRecord, error) {
	return itemRecords(ctx, s, mailbox, "task", entries, taskPath, func(raw json.RawMessage, r *sdk.ChangeRecord) {
		var t graphTask
		json.Unmarshal(raw, &t)
		r.Version, r.Modified = t.ETag, parseGraphTime(t.LastModified)
		if l := t.linked(appSyncgate); l != nil {
			r.CorrelationKey = l.ExternalID
		}
	})
}

func getTask(ctx context.Context, s *state, mailbox, id string) (*graphTask, error) {
	p, err := taskPath(ctx, s, mailbox, id)
	if err != nil {
		return nil, err
	}
	var t graphTask
	if _, err := s.g.do(ctx, call{method: "GET", path: p + "?$expand=linkedResources", mailbox: mailbox}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func fetchTask(ctx context.Context, _ *Connector, s *state, mailbox, id string) (*sdk.Record, error) {
	t, err := getTask(ctx, s, mailbox, id)
	if err != nil {
		return nil, err
	}
	rec := &sdk.Record{Entity: "task", ID: id, Version: t.ETag, Modified: parseGraphTime(t.LastModified), Fields: taskFields(t)}
	if l := t.linked(appSyncgate); l != nil {
		rec.CorrelationKey = l.ExternalID
	}
	return rec, nil
}

// findTaskByKey walks the list for the task whose syncgate linked resource
// carries key: To Do offers no filter on linked resources, and only a
// create that may have succeeded pays for this.
func findTaskByKey(ctx context.Context, s *state, mailbox, key string) (string, error) {
	p, err := tasksPath(ctx, s, mailbox)
	if err != nil {
		return "", err
	}
	link := p + "?$expand=linkedResources&$top=100"
	for pages := 0; link != "" && pages < s.cfg.MaxPages; pages++ {
		var page struct {
			Value    []graphTask `json:"value"`
			NextLink string      `json:"@odata.nextLink"`
		}
		if _, err := s.g.do(ctx, call{method: "GET", path: link, mailbox: mailbox}, &page); err != nil {
			return "", err
		}
		for _, t := range page.Value {
			if l := t.linked(appSyncgate); l != nil && l.ExternalID == key {
				return t.ID, nil
			}
		}
		link = page.NextLink
	}
	return "", nil
}

func createTask(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error) {
	ek, _ := entityOf("task")
	if op.MayExist && op.CorrelationKey != "" {
		id, err := findTaskByKey(ctx, s, mailbox, op.CorrelationKey)
		if err != nil {
			return sdk.OpResult{}, err
		}
		if id != "" {
			rec, err := fetchTask(ctx, c, s, mailbox, id)
			if err != nil {
				return sdk.OpResult{}, err
			}
			return sdk.OpResult{ID: id, Version: rec.Version}, nil
		}
	}
	collection, err := tasksPath(ctx, s, mailbox)
	if err != nil {
		return sdk.OpResult{}, err
	}
	body := taskBody(op.Fields)
	links := []linkedResource{{ApplicationName: appSyncgate, ExternalID: op.CorrelationKey, DisplayName: "syncgate"}}
	if r := regardingResource(op.Fields["regarding"]); r != nil {
		links = append(links, *r)
	}
	body["linkedResources"] = links
	return postItem(ctx, c, s, ek, mailbox, collection, body)
}

// updateTask patches the task; a changed regarding replaces its linked
// resource, after which the version is read back.
func updateTask(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error) {
	ek, _ := entityOf("task")
	p, err := taskPath(ctx, s, mailbox, op.ID)
	if err != nil {
		return sdk.OpResult{}, err
	}
	res, err := patchItem(ctx, c, s, ek, mailbox, op.ID, p, op.IfMatch, taskBody(op.Fields))
	if err != nil || !has(op.Fields, "regarding") {
		return res, err
	}
	t, err := getTask(ctx, s, mailbox, op.ID)
	if err != nil {
		return sdk.OpResult{}, err
	}
	if old := t.linked(appRegarding); old != nil {
		if _, err := s.g.do(ctx, call{method: "DELETE", path: p + "/linkedResources/" + url.PathEscape(old.ID), mailbox: mailbox}, nil); err != nil && !sdk.IsKind(err, sdk.ErrNotFound) {
			return sdk.OpResult{}, err
		}
	}
	if r := regardingResource(op.Fields["regarding"]); r != nil {
		if _, err := s.g.do(ctx, call{method: "POST", path: p + "/linkedResources", mailbox: mailbox, body: r}, nil); err != nil {
			return sdk.OpResult{}, err
		}
	}
	rec, err := fetchTask(ctx, c, s, mailbox, op.ID)
	if err != nil {
		return sdk.OpResult{}, err
	}
	return sdk.OpResult{ID: op.ID, Version: rec.Version}, nil
}
