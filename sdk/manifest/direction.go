package manifest

import "fmt"

// Direction is which way changes of an entity, operation or field may flow.
// Seen as a set of flows, bidirectional holds both one-way directions and
// none holds nothing; "within" is the subset relation.
type Direction string

// The four directions.
const (
	Bidirectional Direction = "bidirectional"
	CRMToMailbox  Direction = "crm_to_mailbox"
	MailboxToCRM  Direction = "mailbox_to_crm"
	None          Direction = "none"
)

// Directions lists the valid directions, widest first.
var Directions = []Direction{Bidirectional, CRMToMailbox, MailboxToCRM, None}

// ParseDirection checks that s names a direction.
func ParseDirection(s string) (Direction, error) {
	for _, d := range Directions {
		if string(d) == s {
			return d, nil
		}
	}
	return "", fmt.Errorf("%q is not a direction: use bidirectional, crm_to_mailbox, mailbox_to_crm or none", s)
}

// ToMailbox reports whether changes flow from the CRM to the mailbox.
func (d Direction) ToMailbox() bool { return d == Bidirectional || d == CRMToMailbox }

// ToCRM reports whether changes flow from the mailbox to the CRM.
func (d Direction) ToCRM() bool { return d == Bidirectional || d == MailboxToCRM }

// Within reports whether every flow of d is also a flow of ceiling.
func (d Direction) Within(ceiling Direction) bool {
	return (!d.ToMailbox() || ceiling.ToMailbox()) && (!d.ToCRM() || ceiling.ToCRM())
}

// Intersect returns the flows both directions have.
func Intersect(a, b Direction) Direction {
	return fromFlows(a.ToMailbox() && b.ToMailbox(), a.ToCRM() && b.ToCRM())
}

func fromFlows(toMailbox, toCRM bool) Direction {
	switch {
	case toMailbox && toCRM:
		return Bidirectional
	case toMailbox:
		return CRMToMailbox
	case toCRM:
		return MailboxToCRM
	}
	return None
}
