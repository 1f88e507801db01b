package dataverseemu

// colType is the Edm type a column is read and written as. The emulator keeps
// values in their JSON form (string, float64, int64, bool) and checks a body's
// values against these types, so a connector that sends a string where the
// service expects a number sees the 400 the service would give.
type colType int

const (
	tString   colType = iota // Edm.String (also memo columns)
	tInt                     // Edm.Int32 / option sets / Edm.Int64
	tBool                    // Edm.Boolean
	tFloat                   // Edm.Double / Edm.Decimal
	tMoney                   // Edm.Decimal with a transaction currency
	tDateTime                // Edm.DateTimeOffset, always written back in UTC
	tDate                    // Edm.Date (DateOnly columns such as birthdate)
	tGUID                    // Edm.Guid (primary keys, seriesid)
	tLookup                  // _<name>_value: set through <nav>@odata.bind only
)

func (c colType) edm() string {
	switch c {
	case tInt:
		return "Edm.Int32"
	case tBool:
		return "Edm.Boolean"
	case tFloat:
		return "Edm.Double"
	case tMoney:
		return "Edm.Decimal"
	case tDateTime:
		return "Edm.DateTimeOffset"
	case tDate:
		return "Edm.Date"
	case tGUID, tLookup:
		return "Edm.Guid"
	}
	return "Edm.String"
}

// single is a single-valued navigation property: it is written with
// <name>@odata.bind (or a nested object for deep insert), read back through the
// lookup column col, and expanded with $expand=<name>. target is the entity
// set the lookup points into.
type single struct {
	col    string
	target string
}

// many is a collection-valued navigation property: rows of target whose lookup
// column fk holds this row's id (appointment_activity_parties, Account_Tasks).
type many struct {
	target string
	fk     string
}

// table describes one Dataverse table as the Web API shows it.
type table struct {
	logical  string // contact
	set      string // contacts
	key      string // contactid
	cols     map[string]colType
	readOnly map[string]bool // computed by the service; writes are ignored as Dataverse does
	singles  map[string]single
	manys    map[string]many
	activity bool // an activity: keyed by activityid, has activity parties
	// immutable tables (systemusers) refuse writes: the emulator provisions
	// users from its options, as an administrator would.
	immutable bool
}

func (t *table) typeName() string { return "Microsoft.Dynamics.CRM." + t.logical }

// orgCurrencyID is the one transaction currency of the emulated organization;
// rows with a money column carry it as _transactioncurrencyid_value as the
// service does.
const orgCurrencyID = "048dddaa-6f7f-e611-80d3-00155db5e0b6"

func cols(kv ...any) map[string]colType {
	m := map[string]colType{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(colType)
	}
	return m
}

func names(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range s {
		m[n] = true
	}
	return m
}

// common columns every emulated user-owned table has.
func withCommon(m map[string]colType, idColumn string, owned bool) map[string]colType {
	m["versionnumber"] = tInt
	m["modifiedon"] = tDateTime
	m["createdon"] = tDateTime
	m["statecode"] = tInt
	m["statuscode"] = tInt
	if owned {
		m["_ownerid_value"] = tLookup
	}
	if idColumn != "" {
		m[idColumn] = tString
	}
	return m
}

var commonReadOnly = []string{"versionnumber", "modifiedon", "createdon"}

// activityCols are the activitypointer columns every activity table inherits.
func activityCols(extra map[string]colType, idColumn string) map[string]colType {
	m := withCommon(extra, idColumn, true)
	for k, v := range cols(
		"activityid", tGUID, "subject", tString, "description", tString,
		"scheduledstart", tDateTime, "scheduledend", tDateTime,
		"actualstart", tDateTime, "actualend", tDateTime,
		"scheduleddurationminutes", tInt, "actualdurationminutes", tInt,
		"prioritycode", tInt, "activitytypecode", tString,
		"_regardingobjectid_value", tLookup, "instancetypecode", tInt,
		"isregularactivity", tBool, "utcconversiontimezonecode", tInt,
		"timezoneruleversionnumber", tInt,
	) {
		m[k] = v
	}
	return m
}

// activityTable declares an activity table: the activitypointer columns plus
// extra, read-only computed columns plus readOnly, and its activity parties
// navigation <logical>_activity_parties.
func activityTable(logical, idColumn string, extra map[string]colType, readOnly ...string) *table {
	ro := append([]string{"activitytypecode", "instancetypecode", "isregularactivity"}, commonReadOnly...)
	return &table{
		logical: logical, set: logical + "s", key: "activityid", activity: true,
		cols:     activityCols(extra, idColumn),
		readOnly: names(append(ro, readOnly...)...),
		singles:  activitySingles(logical),
		manys: map[string]many{
			logical + "_activity_parties": {target: "activityparties", fk: "_activityid_value"},
		},
	}
}

// activitySingles are an activity table's single-valued navigation
// properties: its owner and the polymorphic regarding lookup, one property per
// target table named regardingobjectid_<target>_<activity> as in Dataverse.
// leads and incidents are not emulated tables; a binding to them is stored
// as given.
func activitySingles(logical string) map[string]single {
	m := map[string]single{"ownerid": {col: "_ownerid_value", target: "systemusers"}}
	for _, target := range []string{"account", "contact", "opportunity", "lead", "incident"} {
		set := target + "s"
		if target == "opportunity" {
			set = "opportunities"
		}
		m["regardingobjectid_"+target+"_"+logical] = single{col: "_regardingobjectid_value", target: set}
	}
	return m
}

// buildSchema returns the tables the emulator serves, keyed by entity set.
// accounts and opportunities exist so that the documentation's own samples
// (which use accounts) can be replayed against the emulator.
func buildSchema(idColumn string) map[string]*table {
	ts := []*table{
		{
			logical: "systemuser", set: "systemusers", key: "systemuserid", immutable: true,
			cols: withCommon(cols(
				"systemuserid", tGUID, "internalemailaddress", tString, "fullname", tString,
				"firstname", tString, "lastname", tString, "domainname", tString,
				"azureactivedirectoryobjectid", tGUID, "isdisabled", tBool, "accessmode", tInt,
			), "", false),
			readOnly: names(commonReadOnly...),
		},
		{
			logical: "contact", set: "contacts", key: "contactid",
			cols: withCommon(cols(
				"contactid", tGUID, "firstname", tString, "lastname", tString, "middlename", tString,
				"fullname", tString, "nickname", tString, "salutation", tString,
				"emailaddress1", tString, "emailaddress2", tString, "emailaddress3", tString,
				"telephone1", tString, "telephone2", tString, "telephone3", tString,
				"mobilephone", tString, "fax", tString, "jobtitle", tString, "department", tString,
				"companyname", tString, "birthdate", tDate, "description", tString,
				"websiteurl", tString, "_parentcustomerid_value", tLookup,
				"address1_line1", tString, "address1_line2", tString, "address1_line3", tString,
				"address1_city", tString, "address1_stateorprovince", tString,
				"address1_postalcode", tString, "address1_country", tString,
				"address1_composite", tString,
				"address2_line1", tString, "address2_line2", tString, "address2_line3", tString, "address2_city", tString, "address2_stateorprovince", tString,
				"address2_postalcode", tString, "address2_country", tString,
			), idColumn, true),
			readOnly: names(append([]string{"fullname", "address1_composite"}, commonReadOnly...)...),
			singles: map[string]single{
				"ownerid":                  {col: "_ownerid_value", target: "systemusers"},
				"parentcustomerid_account": {col: "_parentcustomerid_value", target: "accounts"},
				"parentcustomerid_contact": {col: "_parentcustomerid_value", target: "contacts"},
			},
		},
		{
			logical: "account", set: "accounts", key: "accountid",
			cols: withCommon(cols(
				"accountid", tGUID, "name", tString, "accountnumber", tString,
				"telephone1", tString, "fax", tString, "creditonhold", tBool,
				"address1_latitude", tFloat, "description", tString, "revenue", tMoney,
				"accountcategorycode", tInt, "numberofemployees", tInt,
				"_primarycontactid_value", tLookup, "_transactioncurrencyid_value", tLookup,
			), "", true),
			readOnly: names(append([]string{"_transactioncurrencyid_value"}, commonReadOnly...)...),
			singles: map[string]single{
				"ownerid":          {col: "_ownerid_value", target: "systemusers"},
				"primarycontactid": {col: "_primarycontactid_value", target: "contacts"},
			},
			manys: map[string]many{
				"Account_Tasks":                 {target: "tasks", fk: "_regardingobjectid_value"},
				"opportunity_customer_accounts": {target: "opportunities", fk: "_customerid_value"},
			},
		},
		{
			logical: "opportunity", set: "opportunities", key: "opportunityid",
			cols: withCommon(cols(
				"opportunityid", tGUID, "name", tString, "description", tString,
				"_customerid_value", tLookup,
			), "", true),
			readOnly: names(commonReadOnly...),
			singles: map[string]single{
				"ownerid":            {col: "_ownerid_value", target: "systemusers"},
				"customerid_account": {col: "_customerid_value", target: "accounts"},
			},
			manys: map[string]many{
				"Opportunity_Tasks": {target: "tasks", fk: "_regardingobjectid_value"},
			},
		},
		activityTable("appointment", idColumn, cols(
			"location", tString, "isalldayevent", tBool, "globalobjectid", tString,
			"seriesid", tGUID, "originalstartdate", tDateTime, "outlookownerapptid", tInt,
			"importance", tInt, "category", tString, "subcategory", tString,
		), "seriesid"),
		activityTable("recurringappointmentmaster", idColumn, cols(
			"location", tString, "isalldayevent", tBool, "globalobjectid", tString,
			"seriesid", tGUID, "recurrencepatterntype", tInt, "interval", tInt,
			"daysofweekmask", tInt, "dayofmonth", tInt, "monthofyear", tInt, "instance", tInt,
			"firstdayofweek", tInt, "patternstartdate", tDateTime, "patternenddate", tDateTime,
			"patternendtype", tInt, "occurrences", tInt, "starttime", tDateTime, "endtime", tDateTime,
			"duration", tInt, "effectivestartdate", tDateTime, "effectiveenddate", tDateTime,
			"isnthmonthly", tBool, "isnthyearly", tBool, "isregenerate", tBool,
			"isweekdaypattern", tBool, "seriesstatus", tBool, "expansionstatecode", tInt,
			"nextexpansioninstancedate", tDateTime, "lastexpandedinstancedate", tDateTime,
			"importance", tInt, "category", tString, "subcategory", tString,
		), "seriesid", "effectivestartdate", "effectiveenddate", "expansionstatecode",
			"nextexpansioninstancedate", "lastexpandedinstancedate"),
		activityTable("task", idColumn, cols(
			"percentcomplete", tInt, "category", tString, "subcategory", tString,
		)),
		func() *table {
			t := activityTable("serviceappointment", idColumn, cols(
				"location", tString, "isalldayevent", tBool, "_serviceid_value", tLookup,
				"category", tString, "subcategory", tString,
			))
			t.singles["serviceid"] = single{col: "_serviceid_value", target: "services"}
			return t
		}(),
		{
			logical: "activityparty", set: "activityparties", key: "activitypartyid",
			cols: cols(
				"activitypartyid", tGUID, "participationtypemask", tInt, "_partyid_value", tLookup,
				"_activityid_value", tLookup, "addressused", tString, "ispartydeleted", tBool,
				"versionnumber", tInt,
			),
			readOnly: names("versionnumber", "ispartydeleted"),
			singles: map[string]single{
				"partyid_systemuser":                    {col: "_partyid_value", target: "systemusers"},
				"partyid_contact":                       {col: "_partyid_value", target: "contacts"},
				"partyid_account":                       {col: "_partyid_value", target: "accounts"},
				"activityid_appointment":                {col: "_activityid_value", target: "appointments"},
				"activityid_recurringappointmentmaster": {col: "_activityid_value", target: "recurringappointmentmasters"},
				"activityid_task":                       {col: "_activityid_value", target: "tasks"},
				"activityid_serviceappointment":         {col: "_activityid_value", target: "serviceappointments"},
			},
		},
	}
	m := map[string]*table{}
	for _, t := range ts {
		if t.singles == nil {
			t.singles = map[string]single{}
		}
		if t.manys == nil {
			t.manys = map[string]many{}
		}
		m[t.set] = t
	}
	return m
}

// activityTypeCode is what activitytypecode reads for an activity table.
func (t *table) activityTypeCode() string { return t.logical }
