package io.mcp.affinity.web;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.netty.channel.EventLoop;
import org.springframework.http.server.reactive.ServerHttpRequest;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The timers of a request's deadlines (its body, the owner's response headers): its connection's own event loop, where
 * the awaited bytes arrive, so arming and cancelling a deadline costs no hand-over to another thread. With Reactor's
 * shared timer, those wake-ups were most of the local path's overhead in the benchmark's profile.
 */
final class EventLoopTimers {

	// One timer per event loop (a handful per application), created on first use and forgotten when its loop ends.
	// Never disposed here: disposing one would shut its event loop down.
	private static final Map<EventLoop, Scheduler> TIMERS = new ConcurrentHashMap<>();

	private EventLoopTimers() {
	}

	/**
	 * The timer of a request.
	 * @param request the request, as the server adapter or any decorator of it gives it
	 * @return its connection's event loop; Reactor's parallel scheduler for a request not served by Reactor Netty
	 */
	static Scheduler of(ServerHttpRequest request) {
		EventLoop eventLoop = RequestEventLoops.of(request);
		if (eventLoop == null) {
			return Schedulers.parallel();
		}
		return TIMERS.computeIfAbsent(eventLoop, (loop) -> {
			loop.terminationFuture().addListener((terminated) -> TIMERS.remove(loop));
			return Schedulers.fromExecutorService(loop, "mcp-affinity-timer");
		});
	}

}
