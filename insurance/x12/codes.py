"""Code tables of X12 005010X279A1 (270/271) with their meanings, for display and for the summary.

Sources, checked against each other rather than taken from one table (../shared/reference/clinical.md
section 7 warns that several public tables are wrong, e.g. A4-A8 shifted by one):
- clinical.md 7.1-7.4 (service types, EB01, EB02, EB06), from the Stedi X12 element pages
  (stedi.com/edi/x12-005010/element/1365, /1390, /1207, /615);
- Stedi element pages 901 (Reject Reason Code) and 889 (Follow-up Action Code);
- the 5010 HIPAA element value lists of the hex.pm package edi_x12 (GRoguelon/edi_x12,
  priv/element_values/hipaa/r5010/*.json) for the full names of 1365, 1336, 673, 98, 901, 889;
- the loop-by-loop code subsets of LinuxForHealth/x12 (v5010/x12_271_005010X279A1/segments.py) for
  which codes the TR3 allows where (AAA03 per loop, 2110 DTP qualifiers, 2120 NM101). Where that
  table disagrees with the X12 list (its EB03 A3-A8 and EB09 "D8") the X12 list wins.

The parser never refuses a code it does not know: a payer may send a code added after these tables
were written, and the benefit is still worth showing. `meaning()` says so instead.
"""

from __future__ import annotations

from collections.abc import Mapping

# Re-exported: callers look every table up here.
from insurance.x12.service_types import BEHAVIORAL_HEALTH_SERVICE_TYPES as BEHAVIORAL_HEALTH_SERVICE_TYPES
from insurance.x12.service_types import SERVICE_TYPES as SERVICE_TYPES

# Element 1390, EB01 Eligibility or Benefit Information Code: the full 5010 list (clinical.md 7.2).
ELIGIBILITY_CODES: Mapping[str, str] = {
    "1": "Active Coverage",
    "2": "Active - Full Risk Capitation",
    "3": "Active - Services Capitated",
    "4": "Active - Services Capitated to Primary Care Physician",
    "5": "Active - Pending Investigation",
    "6": "Inactive",
    "7": "Inactive - Pending Eligibility Update",
    "8": "Inactive - Pending Investigation",
    "A": "Co-Insurance",
    "AA": "Patient Reimbursement",
    "AB": "Co-payment Maximum",
    "AC": "Co-insurance Maximum",
    "B": "Co-Payment",
    "C": "Deductible",
    "CB": "Coverage Basis",
    "D": "Benefit Description",
    "E": "Exclusions",
    "F": "Limitations",
    "G": "Out of Pocket (Stop Loss)",
    "H": "Unlimited",
    "I": "Non-Covered",
    "J": "Cost Containment",
    "K": "Reserve",
    "L": "Primary Care Provider",
    "M": "Pre-existing Condition",
    "MC": "Managed Care Coordinator",
    "N": "Services Restricted to Following Provider",
    "O": "Not Deemed a Medical Necessity",
    "P": "Benefit Disclaimer",
    "Q": "Second Surgical Opinion Required",
    "R": "Other or Additional Payor",
    "S": "Prior Year(s) History",
    "T": "Card(s) Reported Lost/Stolen",
    "U": "Contact Following Entity for Eligibility or Benefit Information",
    "V": "Cannot Process",
    "W": "Other Source of Data",
    "WV": "Waiver",
    "X": "Health Care Facility",
    "Y": "Spend Down",
}

# Element 1207, EB02 Coverage Level Code (clinical.md 7.3; the extended codes from the element list).
COVERAGE_LEVELS: Mapping[str, str] = {
    "CHD": "Children Only",
    "DEP": "Dependents Only",
    "ECH": "Employee and Children",
    "EMP": "Employee Only",
    "ESP": "Employee and Spouse",
    "FAM": "Family",
    "IND": "Individual",
    "SPC": "Spouse and Children",
    "SPO": "Spouse Only",
    "E1D": "Employee and One Dependent",
    "E2D": "Employee and Two Dependents",
    "E3D": "Employee and Three Dependents",
    "E5D": "Employee and One or More Dependents",
    "E6D": "Employee and Two or More Dependents",
    "E7D": "Employee and Three or More Dependents",
    "E8D": "Employee and Four or More Dependents",
    "E9D": "Employee and Five or More Dependents",
    "S1C": "Subscriber and One Child",
    "S5C": "Subscriber and One or More Children",
    "S6C": "Subscriber and Two or More Children",
    "SS1": "Subscriber, Spouse and One Child",
    "SS5": "Subscriber, Spouse and One or More Children",
    "SS6": "Subscriber, Spouse and Two or More Children",
    "SSP": "Subscriber and Spouse",
    "TWO": "Two Party",
}

# Element 615, EB06 Time Period Qualifier: the codes a 271 uses (clinical.md 7.4).
TIME_PERIODS: Mapping[str, str] = {
    "6": "Hour",
    "7": "Day",
    "13": "24 Hours",
    "21": "Years",
    "22": "Service Year",
    "23": "Calendar Year",
    "24": "Year to Date",
    "25": "Contract",
    "26": "Episode",
    "27": "Visit",
    "28": "Outlier",
    "29": "Remaining",
    "30": "Exceeded",
    "31": "Not Exceeded",
    "32": "Lifetime",
    "33": "Lifetime Remaining",
    "34": "Month",
    "35": "Week",
    "36": "Admission",
    "37": "Three Months",
}

# Element 673, EB09 Quantity Qualifier: the subset the 271 TR3 allows. "DB" is X12's code for
# deductible blood units (LinuxForHealth's table says "D8", which is not in the element list).
QUANTITY_QUALIFIERS: Mapping[str, str] = {
    "8H": "Minimum",
    "99": "Quantity Used",
    "CA": "Covered - Actual",
    "CE": "Covered - Estimated",
    "D3": "Number of Co-insurance Days",
    "DB": "Deductible Blood Units",
    "DY": "Days",
    "HS": "Hours",
    "LA": "Life-time Reserve - Actual",
    "LE": "Life-time Reserve - Estimated",
    "M2": "Maximum",
    "MN": "Month",
    "P6": "Number of Services or Procedures",
    "QA": "Quantity Approved",
    "S7": "Age, High Value",
    "S8": "Age, Low Value",
    "VS": "Visits",
    "YY": "Years",
}

# Element 1336, EB04 Insurance Type Code: the codes 271s carry.
INSURANCE_TYPES: Mapping[str, str] = {
    "12": "Medicare Secondary Working Aged Beneficiary or Spouse with Employer Group Health Plan",
    "13": "Medicare Secondary End-Stage Renal Disease Beneficiary in the Mandated Coordination Period",
    "14": "Medicare Secondary, No-fault Insurance including Auto is Primary",
    "15": "Medicare Secondary Worker's Compensation",
    "16": "Medicare Secondary Public Health Service (PHS) or Other Federal Agency",
    "41": "Medicare Secondary Black Lung",
    "42": "Medicare Secondary Veteran's Administration",
    "43": "Medicare Secondary Disabled Beneficiary Under Age 65 with Large Group Health Plan (LGHP)",
    "47": "Medicare Secondary, Other Liability Insurance is Primary",
    "AP": "Auto Insurance Policy",
    "C1": "Commercial",
    "CO": "Consolidated Omnibus Budget Reconciliation Act (COBRA)",
    "CP": "Medicare Conditionally Primary",
    "D": "Disability",
    "DB": "Disability Benefits",
    "E": "Medicare - Point of Service (POS)",
    "EP": "Exclusive Provider Organization",
    "FF": "Family or Friends",
    "GP": "Group Policy",
    "HM": "Health Maintenance Organization (HMO)",
    "HN": "Health Maintenance Organization (HMO) - Medicare Risk",
    "HS": "Special Low Income Medicare Beneficiary",
    "IN": "Indemnity",
    "IP": "Individual Policy",
    "LC": "Long Term Care",
    "LD": "Long Term Policy",
    "LI": "Life Insurance",
    "LT": "Litigation",
    "MA": "Medicare Part A",
    "MB": "Medicare Part B",
    "MC": "Medicaid",
    "MH": "Medigap Part A",
    "MI": "Medigap Part B",
    "MP": "Medicare Primary",
    "OT": "Other",
    "PE": "Property Insurance - Personal",
    "PL": "Personal",
    "PP": "Personal Payment (Cash - No Insurance)",
    "PR": "Preferred Provider Organization (PPO)",
    "PS": "Point of Service (POS)",
    "QM": "Qualified Medicare Beneficiary",
    "RP": "Property Insurance - Real",
    "SP": "Supplemental Policy",
    "TF": "Tax Equity Fiscal Responsibility Act (TEFRA)",
    "U": "Multiple Options Health Plan",
    "WC": "Workers Compensation",
    "WU": "Wrap Up Policy",
}

# Element 98, NM101 Entity Identifier Code: the values loops 2100A-D and 2120C/D use.
ENTITY_CODES: Mapping[str, str] = {
    "03": "Dependent",
    "13": "Contracted Service Provider",
    "1I": "Preferred Provider Organization (PPO)",
    "1P": "Provider",
    "2B": "Third-Party Administrator",
    "36": "Employer",
    "73": "Other Physician",
    "80": "Hospital",
    "FA": "Facility",
    "GP": "Gateway Provider",
    "GW": "Group",
    "I3": "Independent Physicians Association (IPA)",
    "IL": "Insured or Subscriber",
    "LR": "Legal Representative",
    "OC": "Origin Carrier",
    "P3": "Primary Care Provider",
    "P4": "Prior Insurance Carrier",
    "P5": "Plan Sponsor",
    "PR": "Payer",
    "PRP": "Primary Payer",
    "SEP": "Secondary Payer",
    "TTP": "Tertiary Payer",
    "VER": "Party Performing Verification",
    "VN": "Vendor",
    "VY": "Organization Completing Configuration Change",
    "X3": "Utilization Management Organization",
    "Y2": "Managed Care Organization",
}

# Element 374, DTP01 Date/Time Qualifier: those of loops 2100C/D and 2110C/D of the 271.
DATE_QUALIFIERS: Mapping[str, str] = {
    "096": "Discharge",
    "102": "Issue",
    "152": "Effective Date of Change",
    "193": "Period Start",
    "194": "Period End",
    "198": "Completion",
    "290": "Coordination of Benefits",
    "291": "Plan",
    "292": "Benefit",
    "295": "Primary Care Provider",
    "304": "Latest Visit or Consultation",
    "307": "Eligibility",
    "318": "Added",
    "340": "Consolidated Omnibus Budget Reconciliation Act (COBRA) Begin",
    "341": "Consolidated Omnibus Budget Reconciliation Act (COBRA) End",
    "342": "Premium Paid to Date Begin",
    "343": "Premium Paid to Date End",
    "346": "Plan Begin",
    "347": "Plan End",
    "348": "Benefit Begin",
    "349": "Benefit End",
    "356": "Eligibility Begin",
    "357": "Eligibility End",
    "382": "Enrollment",
    "435": "Admission",
    "442": "Date of Death",
    "458": "Certification",
    "472": "Service",
    "539": "Policy Effective",
    "540": "Policy Expiration",
    "636": "Date of Last Update",
    "771": "Status",
}

# Element 901, AAA03 Reject Reason Code: every code the 271 TR3 allows at some loop.
REJECT_REASONS: Mapping[str, str] = {
    "04": "Authorized Quantity Exceeded",
    "15": "Required Application Data Missing",
    "33": "Input Errors",
    "35": "Out of Network",
    "41": "Authorization/Access Restrictions",
    "42": "Unable to Respond at Current Time",
    "43": "Invalid/Missing Provider Identification",
    "44": "Invalid/Missing Provider Name",
    "45": "Invalid/Missing Provider Specialty",
    "46": "Invalid/Missing Provider Phone Number",
    "47": "Invalid/Missing Provider State",
    "48": "Invalid/Missing Referring Provider Identification Number",
    "49": "Provider is Not Primary Care Physician",
    "50": "Provider Ineligible for Inquiries",
    "51": "Provider Not on File",
    "52": "Service Dates Not Within Provider Plan Enrollment",
    "53": "Inquired Benefit Inconsistent with Provider Type",
    "54": "Inappropriate Product/Service ID Qualifier",
    "55": "Inappropriate Product/Service ID",
    "56": "Inappropriate Date",
    "57": "Invalid/Missing Date(s) of Service",
    "58": "Invalid/Missing Date-of-Birth",
    "59": "Invalid/Missing Date-of-Death",
    "60": "Date of Birth Follows Date(s) of Service",
    "61": "Date of Death Precedes Date(s) of Service",
    "62": "Date of Service Not Within Allowable Inquiry Period",
    "63": "Date of Service in Future",
    "64": "Invalid/Missing Patient ID",
    "65": "Invalid/Missing Patient Name",
    "66": "Invalid/Missing Patient Gender Code",
    "67": "Patient Not Found",
    "68": "Duplicate Patient ID Number",
    "69": "Inconsistent with Patient's Age",
    "70": "Inconsistent with Patient's Gender",
    "71": "Patient Birth Date Does Not Match That for the Patient on the Database",
    "72": "Invalid/Missing Subscriber/Insured ID",
    "73": "Invalid/Missing Subscriber/Insured Name",
    "74": "Invalid/Missing Subscriber/Insured Gender Code",
    "75": "Subscriber/Insured Not Found",
    "76": "Duplicate Subscriber/Insured ID Number",
    "77": "Subscriber Found, Patient Not Found",
    "78": "Subscriber/Insured Not in Group/Plan Identified",
    "79": "Invalid Participant Identification",
    "80": "No Response received - Transaction Terminated",
    "97": "Invalid or Missing Provider Address",
    "98": "Experimental Service or Procedure",
    "AA": "Authorization Number Not Found",
    "AE": "Requires Primary Care Physician Authorization",
    "AF": "Invalid/Missing Diagnosis Code(s)",
    "AG": "Invalid/Missing Procedure Code(s)",
    "AO": "Additional Patient Condition Information Required",
    "CI": "Certification Information Does Not Match Patient",
    "E8": "Requires Medical Review",
    "IA": "Invalid Authorization Number Format",
    "MA": "Missing Authorization Number",
    "T4": "Payer Name or Identifier Missing",
}

# Element 889, AAA04 Follow-up Action Code: the 271 subset.
FOLLOW_UP_ACTIONS: Mapping[str, str] = {
    "C": "Please Correct and Resubmit",
    "N": "Resubmission Not Allowed",
    "P": "Please Resubmit Original Transaction",
    "R": "Resubmission Allowed",
    "S": "Do Not Resubmit; Inquiry Initiated to a Third Party",
    "W": "Please Wait 30 Days and Resubmit",
    "X": "Please Wait 10 Days and Resubmit",
    "Y": "Do Not Resubmit; We Will Hold Your Request and Respond Again Shortly",
}


def meaning(table: Mapping[str, str], code: str) -> str:
    """The words for `code`; "" for an absent element; never an exception for a code we lack."""
    if not code:
        return ""
    found = table.get(code)
    return found if found is not None else f"Unknown code {code!r}"


def service_type(code: str) -> str:
    return meaning(SERVICE_TYPES, code)


def eligibility(code: str) -> str:
    return meaning(ELIGIBILITY_CODES, code)


def coverage_level(code: str) -> str:
    return meaning(COVERAGE_LEVELS, code)


def time_period(code: str) -> str:
    return meaning(TIME_PERIODS, code)


def quantity_qualifier(code: str) -> str:
    return meaning(QUANTITY_QUALIFIERS, code)


def insurance_type(code: str) -> str:
    return meaning(INSURANCE_TYPES, code)


def entity(code: str) -> str:
    return meaning(ENTITY_CODES, code)


def date_qualifier(code: str) -> str:
    return meaning(DATE_QUALIFIERS, code)


def reject_reason(code: str) -> str:
    return meaning(REJECT_REASONS, code)


def follow_up_action(code: str) -> str:
    return meaning(FOLLOW_UP_ACTIONS, code)
