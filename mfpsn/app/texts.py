"""The explanatory text of the web app (Markdown), kept apart from the wiring in ``app.py``."""

INTRO = """
# mfpsn explorer: multiplication-free parallel spiking neurons
A spiking neuron turns an input current **X[t]** into a membrane potential **H[t]** and fires a spike whenever
H crosses a threshold θ. The classic **LIF** neuron does this step by step (H[t] depends on H[t−1]), so it cannot
run all time steps in parallel. The **MFPSN** (Xue, Fang et al., NeurIPS 2025) instead computes
**H[t] = Σᵢ wᵢ · X[t − lagᵢ]** from the last few inputs only: a short filter with k taps spaced by a
dilation d, which runs over all time steps at once. Its taps are powers of two, **wᵢ = ±2^eᵢ**, so every
product is a bit shift and the neuron needs no multiplication.
**Neuron lab**: shape the neuron and watch it fire. **Event explorer**: open event-camera or spike-train
recordings and run the trained networks. **Neurons on events**: an MFPSN and a LIF layer on any camera recording.
**Draw a digit**: a sketch or photo through the sequential-MNIST models. **Speak a digit**: your voice through the
spoken-digit models. **Speed race**: time it against the serial LIF. **Model zoo**: the shipped networks.
"""

LAB_HELP = """
Pick an input on the left, then shape the MFPSN: **order k** (number of taps), **dilation d** (spacing between
taps), and the taps themselves, either as signs and shift exponents (w = ±2^e) or as float weights that the
quantizer rounds to powers of two. The same input drives a serial **LIF** neuron (τ, v_th, reset) for comparison.
Every plot updates as you move a control; text fields update when you press Enter or leave them.
"""

EVENTS_HELP = """
Event cameras report per-pixel brightness changes as a stream of events (x, y, time, polarity: **ON** = brighter,
red; **OFF** = darker, blue). Upload a recording (N-MNIST `.bin`, AEDAT 2/3.1/4, Prophesee EVT 2/3 `.raw` and `.dat`,
NumPy `.npy`/`.npz`, or an SHD spike-train `.h5`) or pick a bundled sample. Spike trains (SHD layout: 700 cochlear
channels) are shown as a spike raster instead of camera frames.
"""

MODELS_HELP = """
### Run pretrained networks on this recording
Pick two checkpoints (after loading, the lists show the models that fit the recording: camera models for camera
recordings, spike-train models for SHD files) and press **Run**. The same network trained with the MFPSN and with
the LIF neuron is compared side by side: class probabilities, how many neurons fire in each layer over time, and
the membrane potential of one chosen neuron per layer. The camera models see a 34 × 34 input: a bigger sensor is
centre-cropped, and the summary says which pixels were kept. Under each answer a warning appears when the
recording is unlike the model's training data (another sensor, far more or fewer events, another duration).
Loading another recording clears these results.
"""

RACE_HELP = """
The MFPSN computes all time steps at once; the LIF must loop over them. This race times both on **this machine**
for the sequence lengths T you choose: at each T the contenders take turns (two warm-up rounds, then the timed
ones), so they share the machine's background load; each point is the median, its bar the interquartile range.
The speed-up is taken over the fastest serial LIF raced: on a CPU with a C++ compiler the fused C++ loop
(`LIF (fused CPU)`), so compiled code races compiled code; the Python loop is there to show the interpreter's
cost. On a GPU the fused Triton kernels join the race. Below are the results recorded in the repository
(`results/`), with the card or machine and the date they were measured on.
"""

ZOO_HELP = """
Networks shipped in `checkpoints/`, each with a model card (architecture, neuron settings, training configuration,
seed and measured test accuracy; the weights' sha256 is checked when a model is loaded). The table below is
`checkpoints/README.md`.
"""

DRAW_HELP = """Draw a digit (or upload a photo or scan of one): it becomes the 784-step pixel sequence of the
sequential-MNIST models, one pixel per time step, exactly as in training (`mfpsn.data.pixels`; a dark digit on a
light background is inverted, cropped, scaled to 20 px and centred as MNIST was). Two models run side by side:
by default the MFPSN and the LIF model trained on the same task with the same budget. The middle plot shows
when each model becomes sure (the probability of its answer after t pixels); the shaded band is the receptive
field of the MFPSN stack, the farthest back one of its outputs can see. The psMNIST models see the same pixels
in one fixed random order. The models' test accuracy is in the table: they were trained with a short CPU
budget (see the Model zoo), so expect mistakes."""

SPEAK_HELP = """Say a digit (zero to nine, in English) into the microphone, upload a `.wav`, or pick one of the bundled
real recordings of the Free Spoken Digit Dataset. The recording goes through the spoken-digit models' front end
exactly as in training (`mfpsn.data.speech`: resampled to 8 kHz, silence trimmed, levelled, a 700-channel cochlea
model from 80 Hz to 3.8 kHz that emits spikes, 10 ms bins): the upper plot shows what the models hear. Two models
run side by side, by default the MFPSN and the LIF model trained on FSDD with the same budget; the lower plot
shows when each becomes sure. FSDD has five male speakers only, so other voices (and other languages) are harder:
the table gives each model's accuracy on FSDD's official split and on speakers it never heard."""


EVENT_NEURONS_HELP = """What do the two neurons do to a real event stream, whatever its content? Pick a recording, a region
of the sensor (by default the most active square) and a time window: the events, counted per pixel and time bin,
drive one layer of MFPSN neurons (taps +2^e over the last k bins spaced d apart, threshold θ) and one layer of LIF
neurons (τ, threshold, hard reset), one neuron per pixel. The player shows input and output spike frames side by
side in sensor coordinates; below, the membranes of the most active pixel. The table says what each layer does
to the stream: spikes out for events in, isolated (noise) events let through, and latency."""
