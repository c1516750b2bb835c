"""mfpsn web explorer: UI wiring only. Callbacks, figures and limits live in ``mfpsn.app``.

``python app.py [--host 127.0.0.1] [--port 7860] [--share]`` (see ``mfpsn.app.serve``).
"""
import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry from the server

from functools import partial  # noqa: E402

import gradio as gr  # noqa: E402

from mfpsn.app import drawing, event_neurons, events_view, lab, models_view, race, serve, speaking, zoo  # noqa: E402
from mfpsn.app.checkpoint_cache import CheckpointCache  # noqa: E402
from mfpsn.app.errors import clean_errors, keep_outputs_on_error  # noqa: E402
from mfpsn.app.session import EventsSession  # noqa: E402
from mfpsn.app.store import ReadCache, RecordingStore  # noqa: E402
from mfpsn.app.figures_events import empty_figure  # noqa: E402
from mfpsn.app.inputs import SIGNALS  # noqa: E402
from mfpsn.app.lab_controls import CONTROLS, active_controls  # noqa: E402
from mfpsn.app.limits import LIMITS  # noqa: E402
from mfpsn.app.texts import (DRAW_HELP, EVENT_NEURONS_HELP, EVENTS_HELP, INTRO, LAB_HELP, MODELS_HELP,  # noqa: E402
                             RACE_HELP, SPEAK_HELP, ZOO_HELP)

D = lab.LabSettings()
PLOTS_MIN_WIDTH = 560  # a narrower window (800 px) puts the plots under the controls, full width, titles whole
# the one store of loaded recordings, owned by this app: sessions hold a key into it (see mfpsn.app.store)
STORE = RecordingStore(LIMITS.store_max_items, LIMITS.store_max_bytes, LIMITS.session_ttl_s)
CHECKPOINTS = CheckpointCache(LIMITS.checkpoint_cache_items)  # verified once, then reused by every tab
EV = EventsSession(STORE, LIMITS, CHECKPOINTS)
READS = ReadCache(STORE)  # files the endpoints name on every call, read once while they are unchanged

with gr.Blocks(title="mfpsn explorer: multiplication-free parallel spiking neurons", analytics_enabled=False,
               delete_cache=(LIMITS.cache_sweep_s, LIMITS.upload_ttl_s)) as demo:
    gr.Markdown(INTRO)
    with gr.Tabs():
        # ------------------------------------------------------------------------------------ neuron lab
        with gr.Tab("Neuron lab", id="lab"):
            gr.Markdown(LAB_HELP)
            with gr.Row():
                with gr.Column(scale=1, min_width=330):
                    with gr.Accordion("1 · Input current X[t]", open=True):
                        signal = gr.Dropdown(list(SIGNALS), value=D.signal, label="signal")
                        T = gr.Slider(8, LIMITS.lab_max_T, value=D.T, step=1, label="T (time steps)", elem_id="lab-T")
                        channels = gr.Slider(1, LIMITS.lab_max_channels, value=D.channels, step=1, label="channels",
                                             elem_id="lab-channels")
                        amplitude = gr.Slider(-4, 4, value=D.amplitude, step=0.05, label="amplitude")
                        period = gr.Slider(1, 256, value=D.period, step=1, label="period (pulse train, sine)")
                        rate = gr.Slider(0, 1, value=D.rate, step=0.01,
                                         label="Poisson rate (spike probability per step)")
                        seed = gr.Number(value=D.seed, precision=0, label="seed")
                        upload = gr.File(file_types=[".csv", ".npy"], type="filepath", elem_id="lab-upload",
                                         label=f"or upload a sequence (replaces the signal above): .csv or .npy "
                                               f"of shape [T] or [T, C] (T ≤ {LIMITS.lab_max_T}, "
                                               f"C ≤ {LIMITS.lab_max_channels})")
                    with gr.Accordion("2 · MFPSN (the multiplication-free neuron)", open=True):
                        order = gr.Slider(1, LIMITS.lab_max_order, value=D.order, step=1, label="order k (taps)",
                                          elem_id="lab-order")
                        dilation_mode = gr.Radio(list(lab.DILATION_MODES), value=D.dilation_mode, label="dilation")
                        dilation = gr.Slider(1, LIMITS.lab_max_dilation, value=D.dilation, step=1,
                                             label="dilation d (manual)", elem_id="lab-dilation")
                        layer = gr.Slider(1, 12, value=D.layer, step=1,
                                          label="layer index in a sawtooth stack (d = 1, 2, 3, 1, 2, 3, …)",
                                          elem_id="lab-layer")
                        taps_from = gr.Radio(list(lab.TAP_SOURCES), value=D.taps_from, label="taps from")
                        signs = gr.Textbox(value=D.signs, label="tap signs, oldest → newest (+, −, 0)")
                        exponents = gr.Textbox(value=D.exponents,
                                               label="tap shift exponents e (w = ±2^e), oldest → newest")
                        float_weights = gr.Textbox(value=D.float_weights, label="float weights, oldest → newest")
                        quantize = gr.Checkbox(value=D.quantize, label="quantize taps to ±2^e (multiplication-free)")
                        threshold = gr.Slider(-2, 6, value=D.threshold, step=0.05, label="threshold θ")
                        surrogate = gr.Dropdown(list(lab.SURROGATE_NAMES), value=D.surrogate,
                                                label="surrogate gradient")
                        alpha = gr.Slider(0.5, 20, value=D.alpha, step=0.5, label="surrogate α")
                    with gr.Accordion("3 · Serial LIF baseline and a third neuron", open=True):
                        lif_tau = gr.Slider(1.1, 32, value=D.lif_tau, step=0.1, label="LIF τ")
                        lif_v_th = gr.Slider(0.05, 4, value=D.lif_v_th, step=0.05, label="LIF v_th")
                        lif_reset = gr.Radio(list(lab.RESETS), value=D.lif_reset, label="LIF reset")
                        extra = gr.Radio(list(lab.EXTRAS), value=D.extra, label="third neuron")
                        channel = gr.Slider(0, LIMITS.lab_max_channels - 1, value=D.channel, step=1,
                                            label="channel to plot")
                with gr.Column(scale=3, min_width=PLOTS_MIN_WIDTH, elem_id="lab-plots"):
                    with gr.Row():
                        view_from = gr.Number(value=D.view_from, precision=0, elem_id="lab-view-from",
                                              label="zoom: show steps from (all three time plots)")
                        view_to = gr.Number(value=D.view_to, precision=0, elem_id="lab-view-to",
                                            label="… to (0: the end; detail is thinned within the window only)")
                    lab_summary = gr.Markdown(elem_id="lab-summary", label="summary")
                    lab_input = gr.Plot(label="input")
                    lab_membrane = gr.Plot(label="membranes", elem_id="lab-membranes")
                    lab_raster = gr.Plot(label="spike rasters")
                    with gr.Row():
                        lab_kernel = gr.Plot(label="effective kernel", elem_id="lab-kernel")
                        lab_rf = gr.Plot(label="receptive field")
                    lab_ops = gr.Plot(label="operations and energy")
            lab_inputs = [signal, T, channels, amplitude, period, rate, seed, upload, order, dilation_mode, dilation,
                          layer, taps_from, signs, exponents, float_weights, quantize, threshold, surrogate, alpha,
                          lif_tau, lif_v_th, lif_reset, extra, channel, view_from, view_to]
            lab_outputs = [lab_input, lab_membrane, lab_raster, lab_kernel, lab_rf, lab_ops, lab_summary]
            lab_update = keep_outputs_on_error(lab.neuron_lab, len(lab_outputs))  # a bad setting keeps the plots
            gr.on([c.change for c in (signal, channels, period, rate, seed, upload, dilation_mode, dilation, layer,
                                      taps_from, quantize, threshold, surrogate, alpha, lif_tau, lif_v_th,
                                      lif_reset, extra, channel, T, amplitude)]
                  + [signs.submit, signs.blur, exponents.submit, exponents.blur, float_weights.submit,
                     float_weights.blur, view_from.submit, view_to.submit, view_from.blur, view_to.blur],
                  lab_update, lab_inputs, lab_outputs, api_name="lab_update", api_visibility="private",
                  trigger_mode="always_last", show_progress="minimal")
            controls = {"signal": signal, "T": T, "channels": channels, "amplitude": amplitude, "period": period,
                        "rate": rate, "seed": seed, "dilation": dilation, "layer": layer, "signs": signs,
                        "exponents": exponents, "float_weights": float_weights, "quantize": quantize,
                        "channel": channel}
            gr.on([signal.change, upload.change, dilation_mode.change, taps_from.change, channels.change, demo.load],
                  active_controls, [signal, upload, dilation_mode, taps_from, channels, channel],
                  [controls[name] for name in CONTROLS], api_visibility="private", show_progress="hidden")
            order.change(lab.fit_tap_texts, [order, signs, exponents, float_weights], [signs, exponents, float_weights],
                         api_visibility="private", show_progress="hidden").then(
                lab_update, lab_inputs, lab_outputs, api_name="lab_update", api_visibility="private",
                show_progress="minimal")
            # the endpoint for API clients, which raises on a bad setting (no button on the page)
            gr.Button(visible=False).click(clean_errors(lab.neuron_lab), lab_inputs, lab_outputs, api_name="neuron_lab")

        # ------------------------------------------------------------------------------------ event explorer
        with gr.Tab("Event explorer", id="events"):
            gr.Markdown(EVENTS_HELP)
            events_state = gr.State(None, time_to_live=LIMITS.session_ttl_s, delete_callback=STORE.discard)
            with gr.Row():
                with gr.Column(scale=1, min_width=320):
                    ev_upload = gr.File(file_types=events_view.EXTENSIONS, type="filepath", elem_id="events-upload",
                                        label=f"upload a recording (up to {LIMITS.max_upload_mb} MB and "
                                              f"{LIMITS.max_events:,} events)")
                    ev_sample = gr.Dropdown(events_view.bundled_samples(), value=None, label="or pick a bundled sample "
                                                                                          "(assets/)")
                    shd_index = gr.Number(value=0, precision=0, label="sample index inside an SHD .h5 file")
                    with gr.Row():
                        ev_format = gr.Dropdown(list(events_view.FORMAT_CHOICES), value=events_view.DETECT,
                                                label="file format", elem_id="events-format")
                        ev_sensor = gr.Textbox(value="", label="sensor size W x H (files without one: .npy, .bin)",
                                               placeholder="from the events", elem_id="events-sensor")
                    n_bins = gr.Slider(1, LIMITS.max_frames, value=20, step=1, label="time bins of the frame viewer",
                                       elem_id="events-bins")
                    load_btn = gr.Button("Load recording", variant="primary")
                    ev_summary = gr.Markdown(events_view.NOTHING_LOADED, elem_id="events-summary", label="summary")
                with gr.Column(scale=2, min_width=PLOTS_MIN_WIDTH):
                    ev_frame = gr.Plot(empty_figure("load a recording to see its frames"), label="frame viewer",
                                       elem_id="events-frame")
                    frame_idx = gr.Slider(1, 20, value=1, step=1, label="time bin (move to play through the recording)",
                                          elem_id="events-frame-slider")
            with gr.Row():
                ev_cloud = gr.Plot(label="x-y-t point cloud / spike raster", elem_id="events-cloud")
                ev_rate = gr.Plot(label="event rate", elem_id="events-rate")
            gr.Markdown(MODELS_HELP)
            with gr.Row():
                left_ckpt = gr.Dropdown(zoo.checkpoint_choices(), value=None, label="model A (MFPSN suggested)",
                                        elem_id="models-a")
                right_ckpt = gr.Dropdown(zoo.checkpoint_choices(), value=None, label="model B (LIF suggested)")
                neuron_idx = gr.Number(value=0, precision=0, label="neuron index for the membrane plot")
                run_btn = gr.Button("Run the models", variant="primary")
            with gr.Row():
                m_window = gr.Radio(list(models_view.WINDOWS), value=models_view.WINDOWS[0], elem_id="models-window",
                                    label="camera models on a bigger sensor: where their input window sits")
                m_x0 = gr.Number(value=0, precision=0, label="window x0 (sensor px)", elem_id="models-x0")
                m_y0 = gr.Number(value=0, precision=0, label="window y0 (sensor px)", elem_id="models-y0")
            run_summary = gr.Markdown(models_view.NO_RESULTS, elem_id="models-summary", label="summary")
            with gr.Row():
                m_probs = gr.Plot(label="class probabilities", elem_id="models-probs")
                m_evidence = gr.Plot(label="per-time-step class evidence", elem_id="models-evidence")
            m_rates = gr.Plot(label="per-layer firing rates")
            m_raster = gr.Plot(label="first-layer spike raster")
            m_membranes = gr.Plot(label="membrane potentials", elem_id="models-membranes")
            m_input = gr.Plot(label="the input tensor the models see", elem_id="models-input")
            model_outputs = [m_probs, m_rates, m_raster, m_membranes, m_evidence, m_input, run_summary]
            load_io = ([ev_upload, ev_sample, shd_index, n_bins, ev_format, ev_sensor],
                       [ev_summary, ev_frame, ev_cloud, ev_rate, events_state, frame_idx])
            load, reload, suggest = clean_errors(EV.load), clean_errors(EV.reload), clean_errors(EV.suggest)
            reset = (clean_errors(EV.reset), [events_state], load_io[1] + model_outputs)

            def then_load(event, fn=load, **visibility):
                """Every load starts by clearing the previous recording and its model results (kept blank when
                the load fails), then suggests the checkpoints that fit the new one."""
                return event.then(*reset, api_visibility="private").then(fn, *load_io, **visibility).success(
                    suggest, [events_state], [left_ckpt, right_ckpt], api_visibility="private")

            then_load(load_btn.click(None), api_name="load_events")
            then_load(ev_upload.upload(events_view.forget_choice, None, ev_sample, api_visibility="private"),
                      api_visibility="private")
            then_load(ev_sample.input(events_view.forget_choice, None, ev_upload, api_visibility="private"),
                      api_visibility="private")
            for control in (shd_index.input, ev_format.input, ev_sensor.submit):
                then_load(control(None), reload, api_visibility="private")
            ev_upload.clear(*reset, api_visibility="private")
            frame_idx.change(clean_errors(EV.show_frame), [events_state, n_bins, frame_idx], [ev_frame],
                             api_visibility="private", trigger_mode="always_last", show_progress="hidden")
            n_bins.input(clean_errors(EV.rebin), [events_state, n_bins], [ev_frame, frame_idx],
                         api_visibility="private", trigger_mode="always_last")
            run_btn.click(clean_errors(EV.run), [events_state, left_ckpt, right_ckpt, neuron_idx, m_window, m_x0, m_y0],
                          model_outputs, api_visibility="private")
            # the same for API clients, who name the file instead of holding a session (no button on the page)
            gr.Button(visible=False).click(clean_errors(partial(models_view.run_model, cache=CHECKPOINTS, reads=READS)),
                                           [ev_upload, ev_sample, shd_index, left_ckpt, right_ckpt, neuron_idx,
                                            ev_format, ev_sensor, m_window, m_x0, m_y0], model_outputs,
                                           api_name="run_model")

        # ------------------------------------------------------------------------------------ event neurons
        with gr.Tab("Neurons on events", id="event-neurons"):
            gr.Markdown(EVENT_NEURONS_HELP)
            with gr.Row():
                with gr.Column(scale=1, min_width=320):
                    en_upload = gr.File(file_types=events_view.EXTENSIONS, type="filepath",
                                        label="upload a camera recording")
                    en_sample = gr.Dropdown(events_view.bundled_samples(), value="nmnist_digit3.bin",
                                            label="or a bundled sample")
                    with gr.Row():
                        en_size = gr.Slider(4, event_neurons.MAX_ROI, value=32, step=1, label="region side (px)")
                        en_x0 = gr.Number(-1, precision=0, label="region x0 (-1: most active)")
                        en_y0 = gr.Number(-1, precision=0, label="region y0 (-1: most active)")
                    with gr.Row():
                        en_t0 = gr.Number(0, label="window start (ms)")
                        en_t1 = gr.Number(0, label="window end (ms, 0: to the end)")
                        en_bin = gr.Number(0, label="bin (ms, 0: automatic)")
                    en_pol = gr.Radio(list(event_neurons.POLARITIES), value="both", label="polarities")
                    en_denoise = gr.Number(0, precision=0, label="denoise filter time (µs, 0: off)")
                    with gr.Row():
                        en_order = gr.Slider(1, 16, value=4, step=1, label="MFPSN order k")
                        en_dil = gr.Slider(1, 64, value=1, step=1, label="dilation d")
                        en_exp = gr.Slider(-8, 8, value=0, step=1, label="tap exponent e (taps +2^e)")
                    with gr.Row():
                        en_theta = gr.Number(2.0, label="MFPSN threshold θ")
                        en_tau = gr.Number(2.0, label="LIF τ")
                        en_vth = gr.Number(1.0, label="LIF threshold")
                    en_btn = gr.Button("Run both layers", variant="primary", elem_id="event-neurons-run")
                with gr.Column(scale=2):
                    en_summary = gr.Markdown(elem_id="event-neurons-summary", label="summary")
                    en_player = gr.Plot(label="input and output spike frames")
                    en_membrane = gr.Plot(label="membranes of one pixel")
            en_btn.click(clean_errors(partial(event_neurons.event_neurons_ui, reads=READS)),
                         [en_upload, en_sample, en_size, en_x0, en_y0, en_t0, en_t1, en_bin, en_pol, en_denoise,
                          en_order, en_dil, en_exp, en_theta, en_tau, en_vth],
                         [en_summary, en_player, en_membrane], api_name="event_neurons")

        # ------------------------------------------------------------------------------------ draw a digit
        with gr.Tab("Draw a digit", id="draw"):
            gr.Markdown(DRAW_HELP)
            draw_choices = drawing.drawing_checkpoints()
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    sketch = gr.Sketchpad(label="draw a digit", type="numpy", canvas_size=(280, 280),
                                          elem_id="draw-sketch")
                    draw_upload = gr.Image(label="or upload a photo or scan of a digit (used instead of the sketch)",
                                           type="numpy", sources=["upload"], elem_id="draw-upload")
                    draw_left = gr.Dropdown(draw_choices, value=draw_choices[0] if draw_choices else None,
                                            label="model A")
                    draw_right = gr.Dropdown(draw_choices, value=next((c for c in draw_choices if c.endswith("_lif")),
                                                                      None), label="model B")
                    draw_neuron = gr.Slider(0, 127, value=0, step=1, label="neuron to plot (same index in every layer)")
                    draw_btn = gr.Button("Classify", variant="primary", elem_id="draw-run")
                with gr.Column(scale=2, min_width=PLOTS_MIN_WIDTH):
                    draw_summary = gr.Markdown(elem_id="draw-summary", label="summary")
                    draw_seq = gr.Plot(label="input sequence")
                    draw_prob = gr.Plot(label="probability over time")
                    draw_dyn = gr.Plot(label="membranes and spikes")
            draw_btn.click(clean_errors(partial(drawing.classify_drawing_ui, cache=CHECKPOINTS)),
                           [sketch, draw_upload, draw_left, draw_right, draw_neuron],
                           [draw_summary, draw_seq, draw_prob, draw_dyn], api_name="classify_drawing")

        # ------------------------------------------------------------------------------------ speak a digit
        with gr.Tab("Speak a digit", id="speak"):
            gr.Markdown(SPEAK_HELP)
            speak_choices = speaking.audio_checkpoints()
            speak_samples = speaking.audio_samples()
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    speak_audio = gr.Audio(label="record (microphone) or upload a .wav of one spoken digit",
                                           sources=["microphone", "upload"], type="filepath", elem_id="speak-audio")
                    speak_sample = gr.Dropdown(speak_samples, value=speak_samples[0] if speak_samples else None,
                                               label="or a bundled FSDD recording (used when nothing is recorded)")
                    speak_left = gr.Dropdown(speak_choices, value=speak_choices[0] if speak_choices else None,
                                             label="model A")
                    speak_right = gr.Dropdown(speak_choices, value=next((c for c in speak_choices
                                                                         if c.endswith("_lif")), None),
                                              label="model B")
                    speak_btn = gr.Button("Classify", variant="primary", elem_id="speak-run")
                with gr.Column(scale=2):
                    speak_summary = gr.Markdown(elem_id="speak-summary", label="summary")
                    speak_input = gr.Plot(label="waveform and cochlea spikes")
                    speak_prob = gr.Plot(label="probability over time")
            speak_btn.click(clean_errors(partial(speaking.classify_audio_ui, cache=CHECKPOINTS)), [speak_audio, speak_sample, speak_left, speak_right],
                            [speak_summary, speak_input, speak_prob], api_name="classify_audio")

        # ------------------------------------------------------------------------------------ speed race
        with gr.Tab("Speed race", id="race"):
            gr.Markdown(RACE_HELP)
            with gr.Row():
                with gr.Column(scale=1, min_width=320):
                    race_T = gr.Textbox(value="16, 64, 256",
                                        label=f"T values (comma-separated, ≤ {LIMITS.race_max_T})",
                                        elem_id="race-T")
                    race_N = gr.Number(value=1024, precision=0, label="N neurons (B × C)")
                    race_k = gr.Slider(1, 16, value=8, step=1, label="MFPSN order k")
                    race_d = gr.Slider(1, 8, value=2, step=1, label="MFPSN dilation d")
                    race_names = gr.CheckboxGroup(race.contenders(serve.compute_device()),
                                                  value=race.default_contenders(serve.compute_device()),
                                                  label="contenders (SpikingJelly, snnTorch, norse: where installed)")
                    race_mode = gr.Radio(list(race.MODES), value=race.MODES[0], label="what to time")
                    race_repeats = gr.Slider(1, 20, value=5, step=1, label="repeats (median and spread)")
                    race_btn = gr.Button("Start the race", variant="primary")
                    race_device = gr.Markdown(race.device_markdown(serve.compute_device()), label="device")
                with gr.Column(scale=2, min_width=PLOTS_MIN_WIDTH):
                    race_time = gr.Plot(label="time against T", elem_id="race-time")
                    race_speedup = gr.Plot(label="speed-up", elem_id="race-speedup")
                    race_table = gr.Markdown(elem_id="race-table", label="summary and table")
                    race_scaling = gr.Plot(label="throughput and scaling (log–log)", elem_id="race-scaling")
                    race_files = gr.File(label="the table as JSON and CSV", file_count="multiple",
                                         elem_id="race-files")
            recorded_md = gr.Markdown()
            recorded_plot = gr.Plot(label="recorded results")
            recorded_scaling = gr.Plot(label="recorded scaling with T and N", elem_id="race-recorded-scaling")
            race_btn.click(clean_errors(race.speed_race),
                           [race_T, race_N, race_k, race_d, race_names, race_mode, race_repeats],
                           [race_time, race_speedup, race_table, race_device, race_files, race_scaling],
                           api_name="speed_race",
                           concurrency_limit=1)

        # ------------------------------------------------------------------------------------ model zoo
        with gr.Tab("Model zoo", id="zoo"):
            gr.Markdown(ZOO_HELP)
            zoo_md = gr.Markdown(elem_id="zoo-table")
            with gr.Row():
                scatter_task = gr.Dropdown(zoo.zoo_tasks(), value=next(iter(zoo.zoo_tasks()), None),
                                           label="task of the accuracy–parameters–energy scatter")
            zoo_scatter = gr.Plot(label="accuracy, parameters and energy", elem_id="zoo-scatter")
            card_pick = gr.Dropdown(zoo.checkpoint_choices(), value=None, label="model card", elem_id="zoo-pick")
            with gr.Row():
                zoo_confusion = gr.Plot(label="confusion matrix on the test split", elem_id="zoo-confusion")
                zoo_curves = gr.Plot(label="training curves", elem_id="zoo-curves")
            zoo_taps = gr.Plot(label="learned tap exponents", elem_id="zoo-taps")
            card_md = gr.Markdown(elem_id="zoo-card")
            results_md = gr.Markdown()
            card_pick.change(clean_errors(partial(zoo.zoo_model, cache=CHECKPOINTS)), [card_pick],
                             [card_md, zoo_confusion, zoo_taps, zoo_curves], api_visibility="private")
            scatter_task.change(clean_errors(zoo.zoo_scatter), [scatter_task], [zoo_scatter], api_visibility="private")

    demo.load(lab_update, lab_inputs, lab_outputs, api_visibility="private", show_progress="hidden")
    demo.load(clean_errors(race.recorded_view), None, [recorded_md, recorded_plot], api_visibility="private")
    demo.load(clean_errors(race.recorded_scaling), None, [recorded_scaling], api_visibility="private")
    demo.load(clean_errors(zoo.zoo_view), None, [zoo_md, results_md], api_visibility="private")
    demo.load(clean_errors(zoo.zoo_scatter), [scatter_task], [zoo_scatter], api_visibility="private")

if __name__ == "__main__":
    serve.main(demo)
