"""Service availability as data: which labs' closed services reach which countries (model v2).

A lab's closed release lines (its API and chat app) do not reach a share of a country's firms:
`unserved[country]` from the lab's published supported-country list (US labs do not serve China,
Hong Kong, Russia, Iran and the embargoed countries in XEM: OpenAI, Anthropic and Google lists of
2025-2026), and, outside the lab's bloc, `1 - service_abroad` (Baidu, Tencent and iFlytek sell their
chatbots and APIs mainly at home: CAC registration, Chinese phone numbers; D0.5, D0.7). Open weights
are downloadable everywhere unless a rule blocks them (a ban or a weight control). Firms whose fixed
compliance draw falls below the share cannot use the line, exactly as under an API control; a
government cannot when the share reaches `access.government_block_share` (governments obey the same
access rules as firms; for one country the share is 0 or 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel


def setup(model: GeopoliticsModel) -> None:
    """`line_unserved` (country x line): share of each country's firms a line does not reach;
    `line_foreign` (country x line): 1 where the line's provider is foreign to the country."""
    unserved = np.zeros((model.n_countries, model.n_lines))
    for lab_index, lab in enumerate(model.world.labs):
        share = np.array([lab.unserved.get(iso3, 0.0) for iso3 in model.country_ids])
        home = str(model.lab_bloc[lab_index])
        abroad = (model.country_bloc != home) if home != "other" else (
            np.arange(model.n_countries) != model.lab_country[lab_index])
        share = np.maximum(share, np.where(abroad, 1.0 - lab.service_abroad, 0.0))
        lines = (model.line_lab == lab_index) & ~model.line_open
        unserved[:, lines] = share[:, None]
    model.line_unserved = unserved
    # Data leave the country when the provider is foreign: another bloc, or for `other` labs another country.
    lab_country = model.lab_country[model.line_lab]
    same_bloc = (model.country_bloc[:, None] == model.line_origin[None, :]) & (model.line_origin != "other")[None, :]
    model.line_foreign = (~(same_bloc | (np.arange(model.n_countries)[:, None] == lab_country[None, :]))).astype(float)


def blocked_share(model: GeopoliticsModel) -> np.ndarray:
    """Country x line: share of firms that cannot use a line this quarter (unserved, or controlled)."""
    return np.maximum(model.policy.blocked_share, model.line_unserved)
