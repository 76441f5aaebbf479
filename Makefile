# Set-up and everyday commands. `make run` and `make test` build .venv on first use,
# from the pinned versions in requirements.lock, so a fresh clone needs nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast baseline bench calibrate calibration-checkpoint calibration-outputs results lint lock clean venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python >= 3.12 needed (pyenv: .python-version says 3.12); got " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m abm.core.warmup  # compile the kernels into the cache (two processes)
	touch $(STAMP)

## The main job: the default research scenario (England 2005-04 -> 2012-03, prescriptive,
## media shock Nov 2008) and its professional-judgment counterfactual, same seed.
run: $(STAMP)
	$(BIN)/cpabm run experiments/scenarios/england_default.toml --seed 2010 --out results/england_default --overwrite
	$(BIN)/cpabm run experiments/scenarios/england_counterfactual_pj.toml --seed 2010 --out results/england_counterfactual_pj --overwrite
	$(BIN)/cpabm compare-runs results/england_default results/england_counterfactual_pj --out results/england_policy_effect --overwrite

## The whole test suite, slow tests included (as CI runs it). The app's browser tests need
## Chromium and the offline front end: `viz-assets` installs both when missing.
## Two test processes (pytest-xdist, whole files per process); the kernel cache is filled
## first, once, so that they never compile the same kernels at the same time.
test: $(STAMP) viz-assets
	$(BIN)/python -m abm.core.warmup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m abm.core.warmup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

## Regenerate the exact seeded baseline (only when a change in behaviour is intended).
baseline: $(STAMP)
	$(BIN)/cpabm baseline --update

## Benchmarks live outside the packages (experiments/benchmarks); results/benchmarks/. The
## engine (a dated record and README.md), then the batch runner's executors (batch.md).
bench: $(STAMP)
	PYTHONPATH=experiments $(BIN)/python -m benchmarks.engine run
	PYTHONPATH=experiments $(BIN)/python -m benchmarks.batch --repeats 5 --out results/benchmarks

## Recalibration (docs/calibration_method.md): the ABC-SMC run of the England spec (hours on
## two cores; rerun after a kill and it resumes), then, by script, the calibrated values in
## abm/data/parameters.toml and everything the calibration report is built from. After
## both: `make baseline` (the seeded baseline follows the calibration; one `golden:` commit).
## A run that is not finished lives on in results/calibration/england_checkpoint.tar.xz
## (`make calibration-checkpoint`, committed): `make calibrate` restores it when ABC_OUT
## does not exist yet, then resumes. ABC_OUT=DIR runs elsewhere (the folder of a run in
## progress is not committed; its checkpoint is).
ABC_OUT ?= results/calibration/abc
## The posterior summary written as the calibrated values: by default the one
## point_summaries.py (run first) chooses by its rule (scored at 1:1: the posterior candidate
## keeping the three published durations, then meeting the most of the review's figures; the
## medians, the mode, a particle or the emulator's search point), or
## POINT="--point median|mode|particle=N" to override it.
POINT ?=
ABC_FROM = $(if $(wildcard $(ABC_OUT)),,$(if $(wildcard results/calibration/england_checkpoint.tar.xz),--from-checkpoint results/calibration/england_checkpoint.tar.xz))
calibrate: $(STAMP)
	nice -n 10 $(BIN)/cpabm calibrate experiments/calibration/england.toml --out $(ABC_OUT) --workers 2 --resume $(ABC_FROM)

calibration-checkpoint: $(STAMP)
	$(BIN)/cpabm calibrate experiments/calibration/england.toml --out $(ABC_OUT) --save-checkpoint results/calibration/england_checkpoint.tar.xz

calibration-outputs: $(STAMP)
	$(BIN)/python experiments/tools/point_summaries.py results/calibration/abc --out results/calibration --scale 1
	$(BIN)/python experiments/tools/apply_calibration.py results/calibration/abc $(if $(POINT),$(POINT),--point-from results/calibration/point_summaries.json)
	$(BIN)/python experiments/tools/court_timetable_levels.py
	$(BIN)/cpabm validate --scale 0.1 --replicates 10 --out results/calibration/validation_s10.json --overwrite --exit-zero
	$(BIN)/cpabm validate --scale 0.05 --replicates 10 --out results/calibration/validation_s05.json --overwrite --exit-zero
	$(BIN)/cpabm validate --replicates 3 --out results/calibration/validation_1to1.json --overwrite --exit-zero
	$(BIN)/cpabm validate --scale 0.1 --replicates 10 --posterior results/calibration/abc --draws 20 --no-variants --out results/calibration/posterior_predictive.json --overwrite --exit-zero
	$(BIN)/python experiments/tools/plans_report.py
	$(BIN)/python experiments/tools/court_indicators_report.py
	$(BIN)/python experiments/tools/court_tradeoff.py results/calibration/abc --out results/calibration
	$(BIN)/python experiments/tools/target_tensions.py results/calibration/abc --out results/calibration
	$(BIN)/python experiments/tools/identify_rest.py results/calibration/abc --out results/calibration
	PYTHONPATH=experiments $(BIN)/python -m benchmarks.calibration --pilot results/calibration/abc --out results/benchmarks
	$(BIN)/python experiments/tools/calibration_report.py

## Every other committed result that depends on the model's defaults, in the order they read
## one another: after `make calibration-outputs`, or any change that moves seeded outputs
## (a few hours on two cores). Each command replaces only what it wrote. Then the tests that
## compare docs with these results (tests/integration/test_*_doc.py) say what to requote.
results: $(STAMP) run viz-assets
	$(BIN)/cpabm figures --overwrite
	$(BIN)/cpabm knockout --replace --workers 2
	$(BIN)/python experiments/tools/ripple_pulse.py --seeds 6 --workers 2
	$(BIN)/python experiments/tools/exposure_power.py --seeds 10
	$(BIN)/python experiments/tools/timeliness_by_regime.py --seeds 3 --scale 0.05
	$(BIN)/cpabm sweep experiments/sweeps/switch_pj_2011.toml --replace --workers 2
	$(BIN)/cpabm sweep experiments/sweeps/court_timetable.toml --replace --workers 2
	$(BIN)/python experiments/tools/plot_court_timetable.py
	$(BIN)/python docs/examples/ema_workbench.py --scenarios 20 --policies 4 --seed 1 --out results/ema
	$(BIN)/python docs/examples/optimise_threshold.py --scenario experiments/scenarios/la_60k_2011_2014.toml --seeds 8 --check-seeds 10 --out results/optimise
	$(BIN)/python -m viz.screenshots

lint: $(STAMP)
	$(BIN)/ruff check .

## Re-resolve the pins from requirements.in (needs the package registry).
lock:
	rm -rf /tmp/cpabm-lock && $(PYTHON) -m venv /tmp/cpabm-lock
	/tmp/cpabm-lock/bin/pip install --quiet -r requirements.in
	(echo "# Pinned, resolved versions of every package the project installs (Python 3.12)."; \
	 echo "# Regenerate with \`make lock\` after changing requirements.in; exact baselines are tied to this file."; \
	 /tmp/cpabm-lock/bin/pip freeze) > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache

## The workshop app (docs/app.md): Solara on http://$(VIZ_HOST):$(VIZ_PORT), no internet needed.
VIZ_HOST ?= 127.0.0.1
VIZ_PORT ?= 8765
.PHONY: viz viz-assets viz-frontend viz-chromium viz-bench viz-screenshots

viz: $(STAMP) viz-frontend
	$(BIN)/cpabm viz --host $(VIZ_HOST) --port $(VIZ_PORT)

## Everything the app's browser tests need: the offline front end and Debian's Chromium.
viz-assets: viz-frontend viz-chromium

## Solara's front end from the npm registry into its local CDN cache (pinned, checked).
viz-frontend: $(STAMP)
	$(BIN)/python viz/offline_assets.py

## Debian's chromium at /usr/bin/chromium (apt-get, as root) when it is missing.
viz-chromium:
	bash viz/ensure_chromium.sh

## Measure one step and the first render; writes results/benchmarks/viz.{md,json}.
viz-bench: $(STAMP) viz-assets
	PYTHONPATH=experiments $(BIN)/python -m benchmarks.app

## Screenshots before and after a media shock: results/figures/app_*_shock.png.
viz-screenshots: $(STAMP) viz-assets
	$(BIN)/python -m viz.screenshots
