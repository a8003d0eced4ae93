"""The only home of FastAPI `Depends`: everything a route needs comes from here."""

from __future__ import annotations

from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.config import GatewaySettings


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def _producer(request: Request) -> AIOKafkaProducer:
    producer: AIOKafkaProducer = request.app.state.producer
    return producer


def _db(request: Request) -> AsyncDatabase[dict[str, Any]]:
    db: AsyncDatabase[dict[str, Any]] = request.app.state.db
    return db


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(_producer)]
DatabaseDep = Annotated[AsyncDatabase[dict[str, Any]], Depends(_db)]
