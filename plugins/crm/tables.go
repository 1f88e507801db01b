package crm

import (
	"context"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// table is one Dataverse table behind a canonical entity.
type table struct {
	set     string // entity set, as in /api/data/v9.2/<set>
	logical string // logical name
	key     string // primary key column
	// prefix marks the ids of this table's rows in item ids when an entity
	// spans several tables (a series master beside single appointments).
	prefix string
	// partyNav is the collection of activity parties a create or update
	// sends ("" for a table without parties); partyMasks are the
	// participation types read into fields, routeMasks those whose parties
	// route a record to bindings.
	partyNav    string
	partyMasks  []int
	routeMasks  []int
	partyFields []partyField
	feedCols    []string // columns the feed reads besides id, version, time and owner
	cols        []string // columns Fetch reads besides those
	// skip leaves feed rows out of the entity (a series' expanded
	// instances); standsFor names the item a row's change is a change of,
	// when that is another row (an edited occurrence: its series).
	skip      func(r row) bool
	standsFor func(r row) (string, bool)
	// version completes a row's version into the item's (a series': its
	// edited occurrences too); nil when the row's version is the item's.
	version func(ctx context.Context, c *Connector, cl *client, id, rowVersion, caller string) (string, error)
	// afterWrite writes what lives in other rows (a series' edited
	// occurrences) once the row itself is written.
	// It reports whether it wrote anything.
	afterWrite func(ctx context.Context, c *Connector, cl *client, id string, f sdk.Fields, caller string) (bool, error)
	read       func(c *Connector, t *table, r row, ps []party) (sdk.Fields, error)
	write      func(c *Connector, t *table, f sdk.Fields, old []party) (row, error)
}

// entity is a canonical entity and the tables that hold it.
type entity struct {
	name   string
	tables []*table
	// createIn picks the table a create goes to.
	createIn func(f sdk.Fields) *table
}

// Activity party participation types (participationtypemask).
const (
	maskRequired  = 5
	maskOptional  = 6
	maskOrganizer = 7
	maskResource  = 10
	maskCustomer  = 11
)

var contactTable = &table{
	set: "contacts", logical: "contact", key: "contactid",
	cols:  contactColumns(),
	read:  func(_ *Connector, _ *table, r row, _ []party) (sdk.Fields, error) { return readContact(r), nil },
	write: func(_ *Connector, _ *table, f sdk.Fields, _ []party) (row, error) { return writeContact(f) },
}

// entities lists what the connector syncs, in the order of the manifest.
func entities() map[string]*entity {
	one := func(t *table) func(sdk.Fields) *table { return func(sdk.Fields) *table { return t } }
	return map[string]*entity{
		"contact":             {name: "contact", tables: []*table{contactTable}, createIn: one(contactTable)},
		"appointment":         {name: "appointment", tables: []*table{appointmentTable, seriesTable}, createIn: appointmentOrSeries},
		"task":                {name: "task", tables: []*table{taskTable}, createIn: one(taskTable)},
		"service_appointment": {name: "service_appointment", tables: []*table{serviceAppointmentTable}, createIn: one(serviceAppointmentTable)},
	}
}

// itemID names a row as an item: its id, prefixed when it lives in an
// entity's second table.
func (t *table) itemID(id string) string { return t.prefix + strings.ToLower(id) }

// parseID finds the table and row id of an item id.
func (e *entity) parseID(id string) (*table, string, error) {
	for _, t := range e.tables {
		if t.prefix != "" && strings.HasPrefix(id, t.prefix) {
			if g := strings.TrimPrefix(id, t.prefix); isGUID(g) {
				return t, g, nil
			}
		}
	}
	if isGUID(id) {
		return e.tables[0], id, nil
	}
	return nil, "", sdk.NewError(sdk.ErrNotFound, "%q is not the id of a Dataverse %s", id, e.name)
}
