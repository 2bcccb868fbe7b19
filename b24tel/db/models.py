"""Every table, for Alembic and for tests that reset the database."""

from __future__ import annotations

from b24tel.crm import models as crm_models  # noqa: F401
from b24tel.db import state  # noqa: F401
from b24tel.db.base import Base
from b24tel.recordings import models as recordings_models  # noqa: F401
from b24tel.telephony import models as telephony_models  # noqa: F401
from b24tel.users import models as users_models  # noqa: F401

metadata = Base.metadata
