"""``GET /service-info`` (GA4GH service-info v1.0) and ``GET /health``: public, no passport needed."""

from __future__ import annotations

from fastapi import APIRouter

from genofed.api import Health, ServiceInfo, ServiceInfoOrganization

from ._deps import NodeDep, SettingsDep

__all__ = ["router"]

router = APIRouter(tags=["service"])


@router.get("/service-info", operation_id="getServiceInfo", response_model=ServiceInfo)
def service_info(settings: SettingsDep) -> ServiceInfo:
    """What this node is: GA4GH service-info with its country and the dataset it holds."""
    organization = settings.organization
    return ServiceInfo(
        id=f"org.genofed.node.{settings.node_id}",
        name=settings.display_name,
        description=settings.description,
        organization=ServiceInfoOrganization(
            name=organization.name if organization else settings.display_name,
            url=organization.url if organization else "https://genofed.org",
        ),
        version=settings.version,
        environment=settings.environment,
        country=settings.country,
        datasets=(settings.dataset_id,),
    )


@router.get("/health", operation_id="getHealth", response_model=Health)
def health(node: NodeDep) -> Health:
    """The node is up and its store answers (503 problem when it does not)."""
    node.store.execute("SELECT 1 FROM individuals LIMIT 1")
    return Health(node_id=node.settings.node_id, version=node.settings.version)
