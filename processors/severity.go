package processors

// Severities of anomalies and trouble codes. They are label values of metrics, so the set is
// closed.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// ValidSeverity reports whether s is one of SeverityInfo, SeverityWarning or SeverityCritical.
func ValidSeverity(s string) bool {
	switch s {
	case SeverityInfo, SeverityWarning, SeverityCritical:
		return true
	}
	return false
}
