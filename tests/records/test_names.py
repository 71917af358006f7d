"""paretonet.records.names: the one grammar of objective names (written and read back alike everywhere)."""

from __future__ import annotations

import math

import pytest

from paretonet.errors import ConfigError
from paretonet.records import Objective, Record
from paretonet.records.names import (ALIASES, DEFAULT_ENERGY, ObjectiveName, certified_name, device_name, energy_name,
                                     eps_label, input_noise_name, min_over_attacks_name, perturbed_accuracy_name,
                                     resolve, robust_name)

NAMES = {  # name -> (quantity, method, setting, eps, unit, direction)
    "accuracy": ("accuracy", "", "", None, "fraction", "max"),
    "size_bytes": ("size_bytes", "", "", None, "bytes", "min"),
    "macs": ("macs", "", "", None, "MACs", "min"),
    "robust_accuracy@pgd:0.1": ("robust_accuracy", "pgd", "", 0.1, "fraction", "max"),
    "robust_accuracy@worst:fast:0.1": ("robust_accuracy", "worst", "fast", 0.1, "fraction", "max"),
    "robust_accuracy@min:apgd-ce+square+fgsm+pgd:1/255": ("robust_accuracy", "min", "apgd-ce+square+fgsm+pgd", 1 / 255,
                                                          "fraction", "max"),
    "certified_accuracy@smoothing:l2:1.5": ("certified_accuracy", "smoothing", "l2", 1.5, "fraction", "max"),
    "certified_accuracy@ibp:linf:8/255": ("certified_accuracy", "ibp", "linf", 8 / 255, "fraction", "max"),
    "accuracy@noise:gaussian:0.1": ("accuracy", "noise", "gaussian:0.1", None, "fraction", "max"),
    "accuracy@noise:outputs:0.1@fc1+fc2": ("accuracy", "noise", "outputs:0.1@fc1+fc2", None, "fraction", "max"),
    "accuracy@faults:weights:n=10:bits=7": ("accuracy", "faults", "weights:n=10:bits=7", None, "fraction", "max"),
    "energy_pj@horowitz45:hierarchy": ("energy_pj", "horowitz45", "hierarchy", None, "pJ", "min"),
    "energy_mult_pj@horowitz45:A": ("energy_mult_pj", "horowitz45", "A", None, "pJ", "min"),
    "energy_mac16@eyeriss:B": ("energy_mac16", "eyeriss", "B", None, "MAC16", "min"),
    "energy_mj@fpga": ("energy_mj", "fpga", "", None, "mJ", "min"),
    "latency_ms@cpu": ("latency_ms", "cpu", "", None, "ms", "min"),
    "proxy_synflow": ("proxy_synflow", "", "", None, None, None),
    "proxy_flops": ("proxy_flops", "", "", None, "FLOPs", "min"),
}


@pytest.mark.parametrize("text", sorted(NAMES))
def test_a_name_parses_into_its_parts_and_writes_back_the_same(text):
    n = ObjectiveName.parse(text)
    quantity, method, setting, eps, unit, direction = NAMES[text]
    assert (n.quantity, n.method, n.setting, n.unit, n.direction) == (quantity, method, setting, unit, direction)
    assert (n.eps is None and eps is None) or math.isclose(n.eps, eps)
    assert str(n) == text


def test_the_writers_produce_the_names_records_carry():
    assert robust_name("worst:fast", 0.1) == "robust_accuracy@worst:fast:0.1"
    assert robust_name("apgd-ce", 1 / 255) == "robust_accuracy@apgd-ce:1/255"
    assert min_over_attacks_name(("fgsm", "pgd"), 0.1) == "robust_accuracy@min:fgsm+pgd:0.1"
    assert certified_name("smoothing", 0.25) == "certified_accuracy@smoothing:l2:0.25"
    assert certified_name("ibp", 0.1) == "certified_accuracy@ibp:linf:0.1"
    assert perturbed_accuracy_name("faults", "weights:0.001") == "accuracy@faults:weights:0.001"
    assert input_noise_name("salt-pepper", 0.05) == "accuracy@noise:salt-pepper:0.05"
    assert energy_name("eyeriss", "MAC16", "A", "data") == "energy_data_mac16@eyeriss:A"
    assert device_name("latency", "ms", "pixel3") == "latency_ms@pixel3"
    assert DEFAULT_ENERGY == "energy_pj@horowitz45:hierarchy" == ALIASES["energy"]
    assert eps_label(8 / 255) == "8/255" and eps_label(0.1) == "0.1"


@pytest.mark.parametrize("text,message", [
    ("robust_accuracy@pgd", "expected robust_accuracy@<method>[:<setting>]:<eps>"),
    ("robust_accuracy@pgd:2", "eps '2' is outside [0, 1]"),
    ("robust_accuracy@pgd:0.10", "write it as 'robust_accuracy@pgd:0.1'"),
    ("certified_accuracy@ibp:l2:0.1", "expected certified_accuracy@smoothing:l2:<radius>"),
    ("accuracy@pgd:0.1", "expected accuracy@noise:<noise> or accuracy@faults:<faults>"),
    ("energy_pj", "energy_pj needs '@'"),
    ("size_bytes@cpu", "size_bytes takes no '@'"),
    ("joules@cpu", "unknown quantity 'joules'"),
    ("", "expected a name such as accuracy"),
])
def test_a_malformed_name_is_one_error_naming_it(text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        ObjectiveName.parse(text)


def test_short_names_resolve_alike_for_search_and_compare():
    names = ["accuracy", "energy_pj@horowitz45:A", "energy_pj@horowitz45:hierarchy", "size_bytes",
             "robust_accuracy@worst:fast:0.1"]
    assert resolve("energy", names, "x") == "energy_pj@horowitz45:hierarchy"  # several match: the Records' own
    assert resolve("energy", ["energy_pj@eyeriss:A"], "x") == "energy_pj@eyeriss:A"  # one matches: that one
    assert resolve("size", names, "x") == "size_bytes"
    assert resolve("robust_accuracy", names, "x") == "robust_accuracy@worst:fast:0.1"
    with pytest.raises(ConfigError, match="--where: unknown objective 'latency'"):
        resolve("latency", names, "--where")


def test_a_record_without_the_objective_asked_for_raises_the_projects_error():
    r = Record("lenet:x", "digits", 0, (Objective("accuracy", 0.9, "fraction", "max"),))
    with pytest.raises(ConfigError, match="no objective 'macs'; it has accuracy"):
        r.value("macs")
