"""The tapers app's data, one module per area; imported here so Django finds every model.

- catalogue: medications (with their strengths and forms), prescribers, pharmacies.
- ledger: prescriptions, PDMP imports and checks, risk flags.
- plans: taper plans, their versions and steps, holds, withdrawal checks and check links.
- coordination: the prescriber of record, communications with outside prescribers.
"""

from tapers.models.catalogue import (  # noqa: F401
    DosageForm,
    DrugClass,
    HalfLifeGroup,
    Medication,
    MedicationStrength,
    Pharmacy,
    Prescriber,
)
from tapers.models.coordination import (  # noqa: F401
    Communication,
    CommunicationChannel,
    CommunicationDirection,
    CommunicationStatus,
    PrescriberOfRecord,
)
from tapers.models.ledger import (  # noqa: F401
    PdmpCheck,
    PdmpImport,
    Prescription,
    PrescriptionSource,
    RiskFlag,
    RiskSeverity,
)
from tapers.models.plans import (  # noqa: F401
    CheckLink,
    CheckVia,
    CiwaBand,
    HoldBand,
    PlanHold,
    PlanStatus,
    StepStatus,
    TaperPlan,
    TaperPlanVersion,
    TaperStep,
    WithdrawalCheck,
)
