"""Assets that connect the DAGs (data-aware scheduling): extraction and intake feed the build."""

from airflow.sdk import Asset

STAGING_EDUCATION = Asset(name="skolsam_staging_education", uri="skolsam://warehouse/staging/ss12000")
STAGING_ENROLLMENT = Asset(name="skolsam_staging_enrollment", uri="skolsam://warehouse/staging/enrollment")
MARTS = Asset(name="skolsam_marts", uri="skolsam://warehouse/mart")
