# The shipped policies (policies/*.policy) written in Rego, for the benchmark.
# Rego leaves a rule undefined when a fact is missing, so this version does not
# report missing facts; it does the same comparisons and builds the same reasons.
package govsvc

import rego.v1

deny contains r if {
	some a in input.protected_attributes
	v := input.fairness[a].min_impact_ratio
	v < 0.8
	r := {"rule": "four-fifths", "observed": v, "threshold": 0.8, "message": sprintf("%s: the lowest group is selected at %v of the best group's rate, under 0.8 (failing: %v)", [a, v, input.fairness[a].four_fifths_failing])}
}

deny contains r if {
	some a in input.protected_attributes
	v := input.fairness[a].equal_opportunity_difference
	v > 0.05
	r := {"rule": "tpr-gap", "observed": v, "threshold": 0.05, "message": sprintf("%s: true-positive rates differ by %v, above 0.05", [a, v])}
}

deny contains r if {
	some a in input.protected_attributes
	v := input.fairness[a].false_positive_rate_difference
	v > 0.05
	r := {"rule": "fpr-gap", "observed": v, "threshold": 0.05, "message": sprintf("%s: false-positive rates differ by %v, above 0.05", [a, v])}
}

warn contains r if {
	some a in input.protected_attributes
	n := count(input.fairness[a].low_support_groups)
	n > 0
	r := {"rule": "low-support", "observed": n, "threshold": 0, "message": sprintf("%s: groups under the minimum size make its gaps unreliable", [a])}
}

review contains r if {
	count(input.protected_attributes) == 0
	r := {"rule": "no-attributes", "message": "the request carries no protected attribute"}
}

deny contains r if {
	v := input.dataset.records_without_consent
	v > 0
	r := {"rule": "records-without-consent", "observed": v, "threshold": 0, "message": sprintf("%v training records lack consent for %v", [v, input.model.intended_use])}
}

deny contains r if {
	not input.dataset.consent_covered
	input.dataset.records_without_consent == 0
	r := {"rule": "purposes-not-covered", "message": sprintf("consent does not cover every purpose (failing: %v)", [input.dataset.failing_purposes])}
}

review contains r if {
	n := count([f | some f in input.drift.features; f.psi >= 0.25])
	n > 0
	r := {"rule": "major-drift", "observed": n, "threshold": 0, "message": sprintf("%v feature(s) drifted past PSI 0.25", [n])}
}

warn contains r if {
	some name, f in input.drift.features
	f.psi < 0.25
	f.psi >= 0.1
	r := {"rule": "moderate-drift", "observed": f.psi, "threshold": 0.1, "message": sprintf("%s drifted moderately: PSI %v", [name, f.psi])}
}

review contains r if {
	v := input.drift.critical_alerts
	v > 0
	r := {"rule": "critical-alerts", "observed": v, "threshold": 0, "message": sprintf("the pipeline raised %v critical drift alert(s)", [v])}
}

review contains r if {
	v := input.uncertainty.mean_std
	v > input.uncertainty.threshold
	r := {"rule": "spread", "observed": v, "threshold": input.uncertainty.threshold, "message": sprintf("mean predictive spread %v is above the calibrated threshold", [v])}
}

review contains r if {
	v := input.uncertainty.share_above_threshold
	v > 0.1
	r := {"rule": "share", "observed": v, "threshold": 0.1, "message": sprintf("%v of predictions have a spread above the threshold", [v])}
}

warn contains r if {
	v := input.uncertainty.ece
	v > 0.05
	r := {"rule": "calibration", "observed": v, "threshold": 0.05, "message": sprintf("expected calibration error %v is above 0.05", [v])}
}

deny contains r if {
	input.risk.tier == "unacceptable"
	r := {"rule": "prohibited", "message": "the model is in the unacceptable tier"}
}

warn contains r if {
	input.risk.tier == "limited"
	r := {"rule": "transparency", "message": "a limited-risk system must tell people they are dealing with AI"}
}

review contains r if {
	not input.model.intended_use
	r := {"rule": "intended-use-unknown", "message": "the request does not say what the model is for"}
}

review contains r if {
	input.stage == "production"
	input.risk.tier == "high"
	r := {"rule": "before-production", "message": "a high-risk model needs a human's approval before production"}
}

review contains r if {
	v := input.risk.exposure
	v > 0.7
	r := {"rule": "high-exposure", "observed": v, "threshold": 0.7, "message": sprintf("composite exposure %v is above 0.7", [v])}
}

warn contains r if {
	v := input.risk.bias_impact
	v > 50
	r := {"rule": "bias-impact", "observed": v, "threshold": 50, "message": sprintf("bias-impact score %v is above 50", [v])}
}

verdict := "deny" if {
	count(deny) > 0
} else := "review" if {
	count(review) > 0
} else := "warn" if {
	count(warn) > 0
} else := "allow"

result := {"verdict": verdict, "deny": deny, "review": review, "warn": warn}
