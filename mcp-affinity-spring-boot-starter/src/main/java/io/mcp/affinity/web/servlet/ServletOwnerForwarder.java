package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.web.ForwardSignature;
import io.mcp.affinity.web.ForwardedHeaderRules;
import io.mcp.affinity.web.SessionRouting;
import io.mcp.affinity.web.SessionRouting.ForwardFailure;
import io.mcp.affinity.web.servlet.AbortableRequestFactory.Abort;
import io.micrometer.context.ContextSnapshot;
import io.micrometer.context.ContextSnapshotFactory;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.http.Cookie;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.hc.client5.http.ConnectTimeoutException;
import org.apache.hc.core5.http.NoHttpResponseException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cloud.gateway.server.mvc.common.MvcUtils;
import org.springframework.cloud.gateway.server.mvc.config.GatewayMvcProperties;
import org.springframework.cloud.gateway.server.mvc.handler.ProxyExchange;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.scheduling.concurrent.CustomizableThreadFactory;
import org.springframework.util.LinkedMultiValueMap;
import org.springframework.util.MultiValueMap;
import org.springframework.web.servlet.ModelAndView;
import org.springframework.web.servlet.function.ServerRequest;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * Forwards a servlet request to the instance that owns its session, through Spring Cloud Gateway's Web MVC server
 * machinery (its {@link ProxyExchange}, on an Apache HttpClient 5 of its own). Nothing is buffered: the request
 * body streams to the owner as it arrives, and an SSE response streams back event by event, flushed per read.
 * <p>
 * Threads: for a POST or DELETE the request thread waits for the owner's response headers (so a refused connection
 * or a timeout is still answered by the affinity layer). A streamed response (SSE) is then relayed on the request
 * thread while the owner's next bytes come at once, and on a thread of the relay executor, the request gone
 * asynchronous, once they do not (see {@link Relayed}). A GET goes asynchronous first and waits for the headers on a
 * relay thread ({@link #inBackground}): Spring AI's transports send a GET stream's headers with its first event, which
 * may be minutes away. A long-lived forwarded stream holds no container thread, so the container's pool is not what
 * bounds the number of open streams. The relay executor gives each stream a thread: virtual with
 * {@code spring.threads.virtual.enabled=true} on Java 21 or later, a pooled platform thread otherwise. When the client
 * goes away, the next write fails (or the container reports the error) and the forward's request is aborted, which
 * ends it.
 */
public final class ServletOwnerForwarder implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(ServletOwnerForwarder.class);

	private static final ContextSnapshotFactory CONTEXT = ContextSnapshotFactory.builder().build();

	// A streamed answer is relayed on the request thread while its owner's next bytes come within this time (Spring AI
	// writes a POST's result, then the stream's end from another thread a moment later)...
	private static final Duration ON_REQUEST_THREAD_WAIT = Duration.ofMillis(5);

	// ... and for at most this long: a stream whose events keep coming goes on on a relay thread all the same.
	private static final Duration ON_REQUEST_THREAD_AT_MOST = Duration.ofMillis(50);

	private final ProxyExchange proxy;

	private final AbortableRequestFactory requestFactory;

	private final ForwardedHeaderRules headerRules;

	private final String selfEpoch;

	private final Duration connectTimeout;

	private final Duration responseTimeout;

	private final List<MediaType> streamingMediaTypes;

	private final Executor relayExecutor;

	private final int bufferSize;

	private final ScheduledExecutorService deadlines;

	// The response-headers deadlines of the forwards waiting for their owner's headers, checked by one timer every
	// sweep period: arming one adds it to this set and wakes no thread (a timer task per forward woke the timer's thread
	// on most forwards, on the request's path).
	private final Set<Deadline> pending = ConcurrentHashMap.newKeySet();

	// The forwards whose responses are being relayed on relay threads: aborted when this instance shuts down, which
	// ends each relay (its thread may be blocked reading an idle stream).
	private final Set<Abort> relaying = ConcurrentHashMap.newKeySet();

	private @Nullable ForwardSignature signature;

	/**
	 * Creates a forwarder.
	 * @param requestFactory the requests to the owners: a client with a connect timeout, no read timeout (a read timeout
	 * would end a quiet stream), no redirects followed, no compression, a pool large enough for the streams relayed at
	 * once
	 * @param proxy the gateway's exchange with the owners, on that request factory
	 * @param gatewayProperties the Web MVC gateway's properties (its streaming media types and buffer size)
	 * @param trustedProxies regular expression of the client addresses trusted to set {@code X-Forwarded-*}
	 * @param self this instance: forwarded requests are marked with its epoch
	 * @param connectTimeout how long to wait for a connection to the owner
	 * @param responseTimeout how long to wait for the owner's response headers (not for a GET, whose SSE stream may
	 * wait for its first event, and not for a streamed body)
	 * @param relayExecutor runs the relay of each streamed response, for as long as the stream lasts: one thread per
	 * open stream (a pool of them is shut down with the forwarder)
	 */
	public ServletOwnerForwarder(AbortableRequestFactory requestFactory, ProxyExchange proxy,
			GatewayMvcProperties gatewayProperties, String trustedProxies, InstanceIdentity self, Duration connectTimeout,
			Duration responseTimeout, Executor relayExecutor) {
		this.requestFactory = requestFactory;
		this.proxy = proxy;
		this.headerRules = new ForwardedHeaderRules(trustedProxies);
		this.selfEpoch = self.epoch();
		this.connectTimeout = connectTimeout;
		this.responseTimeout = responseTimeout;
		List<MediaType> streaming = new ArrayList<>(gatewayProperties.getStreamingMediaTypes());
		streaming.add(MediaType.TEXT_EVENT_STREAM);
		streaming.add(MediaType.APPLICATION_NDJSON);
		this.streamingMediaTypes = List.copyOf(streaming);
		this.relayExecutor = relayExecutor;
		this.bufferSize = gatewayProperties.getStreamingBufferSize();
		this.deadlines = new ScheduledThreadPoolExecutor(1,
				daemon(new CustomizableThreadFactory("mcp-affinity-forward-deadline-")));
		long sweep = sweepPeriod(responseTimeout).toNanos();
		this.deadlines.scheduleWithFixedDelay(this::expireOverdue, sweep, sweep, TimeUnit.NANOSECONDS);
	}

	// A twentieth of the timeout, between 10 ms and a second: a forward past its deadline is ended within that.
	private static Duration sweepPeriod(Duration responseTimeout) {
		Duration twentieth = responseTimeout.dividedBy(20);
		Duration least = Duration.ofMillis(10);
		Duration most = Duration.ofSeconds(1);
		return (twentieth.compareTo(least) < 0) ? least : (twentieth.compareTo(most) > 0) ? most : twentieth;
	}

	private void expireOverdue() {
		long now = System.nanoTime();
		for (Deadline deadline : this.pending) {
			if (now - deadline.due >= 0) {
				deadline.expire();
			}
		}
	}

	private static CustomizableThreadFactory daemon(CustomizableThreadFactory factory) {
		factory.setDaemon(true);
		return factory;
	}

	/**
	 * Signs every forward from now on, so receivers can reject requests that only claim to be forwarded.
	 * @param signature the signer
	 */
	public void setSignature(ForwardSignature signature) {
		this.signature = signature;
	}

	/**
	 * Forwards the request to the owner, once its response headers are in.
	 * @param request the request, nothing read from its body
	 * @param sessionId the session
	 * @param owner the owning instance
	 * @param onBroken called when relaying the owner's answer fails after it began
	 * @param abort ends the forward from another thread (its wait for headers, or its relay)
	 * @return the owner's answer, which relays the owner's body as it is written
	 * @throws Exception when the owner could not be reached or sent no headers in time (see {@link #failure})
	 */
	ServerResponse forward(ServerRequest request, SessionId sessionId, InstanceIdentity owner, Runnable onBroken,
			Abort abort) throws Exception {
		URI incoming = request.uri();
		String pathAndQuery = SessionRouting.pathAndQuery(incoming);
		URI address = owner.address();
		URI target = URI.create(address.getScheme() + "://" + address.getRawAuthority() + pathAndQuery);
		ForwardSignature signer = this.signature;
		String signature = (signer != null)
				? signer.sign(request.method().name(), pathAndQuery, sessionId.value(), this.selfEpoch) : null;
		InetSocketAddress client = request.remoteAddress().orElse(null);
		HttpServletRequest servletRequest = request.servletRequest();
		HttpHeaders headers = new HttpHeaders();
		// Read from the container's own headers (Spring's view over them builds a list per name). Host is dropped: the
		// client sets it from the target.
		this.headerRules.request((each) -> eachHeader(servletRequest, each),
				(name) -> Collections.list(servletRequest.getHeaders(name)), client, incoming,
				new ForwardedHeaderRules.Marks(this.selfEpoch, signature), true, headers::add);
		Deadline deadline = HttpMethod.GET.equals(request.method()) ? null : new Deadline(abort);
		try {
			ServerResponse response = this.requestFactory.forwarding(abort,
					() -> this.proxy.exchange(this.proxy.request(request)
						.uri(target)
						.headers(headers)
						.responseConsumer((ownerResponse, relayed) -> {
							if (deadline != null) {
								deadline.met();
							}
							ForwardedHeaderRules.response(ownerResponse.getHeaders(), relayed.headers());
						})
						.build()));
			return new Relayed(response, abort, isStreaming(response.headers().getContentType()), onBroken);
		}
		catch (Exception ex) {
			if (deadline != null && deadline.missed()) {
				throw new OwnerTimeoutException(ex);
			}
			if (isConnectionLost(ex)) {
				throw ownerGoneOrBusy(owner, ex);
			}
			throw ex;
		}
		finally {
			if (deadline != null) {
				deadline.close();
			}
		}
	}

	private static void eachHeader(HttpServletRequest request, BiConsumer<String, String> each) {
		for (Enumeration<String> names = request.getHeaderNames(); names.hasMoreElements();) {
			String name = names.nextElement();
			for (Enumeration<String> values = request.getHeaders(name); values.hasMoreElements();) {
				each.accept(name, values.nextElement());
			}
		}
	}

	/**
	 * Runs a forward on a relay thread, the request gone asynchronous first: no container thread waits for the owner,
	 * whose stream may send no headers until its first event. Whatever the forward returns (the owner's answer, or the
	 * affinity layer's) is written from that thread.
	 * @param forward the forward, given the handle that ends it (when the client goes away, or this instance stops)
	 * @return the response that starts it
	 */
	ServerResponse inBackground(Function<Abort, ServerResponse> forward) {
		return new InBackground(forward);
	}

	// A pooled connection the owner closed before answering: the owner stopped (its connections closed with it) or
	// closed an idle connection just as it was reused. The client does not re-check a pooled connection before reusing
	// it (its check costs a millisecond's wait per request), so a fresh connection attempt tells the two apart.
	private static boolean isConnectionLost(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof NoHttpResponseException
					|| (t instanceof SocketException && !(t instanceof ConnectException))) {
				return true;
			}
		}
		return false;
	}

	private Exception ownerGoneOrBusy(InstanceIdentity owner, Exception lost) {
		URI address = owner.address();
		int port = (address.getPort() >= 0) ? address.getPort() : ("https".equals(address.getScheme()) ? 443 : 80);
		try (Socket probe = new Socket()) {
			probe.connect(new InetSocketAddress(address.getHost(), port),
					Math.toIntExact(this.connectTimeout.toMillis()));
		}
		catch (ConnectException refused) {
			// Gone: its sessions are as good as gone (404).
			refused.addSuppressed(lost);
			return refused;
		}
		catch (IOException ex) {
			// Not answering in time either: busy, or going away.
		}
		return new OwnerConnectionLostException(lost);
	}

	private boolean isStreaming(@Nullable MediaType contentType) {
		if (contentType == null) {
			return false;
		}
		for (MediaType streaming : this.streamingMediaTypes) {
			if (streaming.equalsTypeAndSubtype(contentType)) {
				return true;
			}
		}
		return false;
	}

	/**
	 * What a forwarding error means for the session.
	 * @param error an error of {@link #forward}
	 * @return the failure, or {@code null} for any other error
	 */
	public static @Nullable ForwardFailure failure(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof OwnerTimeoutException) {
				return ForwardFailure.RESPONSE_TIMEOUT;
			}
			if (t instanceof OwnerConnectionLostException) {
				// The owner is there but dropped the request: 503, retry.
				return ForwardFailure.ABORTED;
			}
			if (t instanceof ConnectTimeoutException) {
				return ForwardFailure.CONNECT_TIMEOUT;
			}
			if (t instanceof ConnectException || t instanceof NoRouteToHostException) {
				return ForwardFailure.UNREACHABLE;
			}
			if (t instanceof InterruptedException) {
				// Not the deadline's (that is an OwnerTimeoutException): the container stopping its threads.
				return ForwardFailure.ABORTED;
			}
		}
		return null;
	}

	private static void complete(AsyncContext async) {
		try {
			async.complete();
		}
		catch (IllegalStateException ex) {
			// The container already ended the request (the client went away): nothing left to complete.
			logger.trace("Forwarded stream already ended by the container", ex);
		}
	}

	/** Ends the streams still being relayed, the deadline timer, and the client's connections. */
	@Override
	public void close() {
		for (Abort relay : this.relaying) {
			relay.abort();
		}
		this.deadlines.shutdownNow();
		if (this.relayExecutor instanceof ExecutorService pool) {
			pool.shutdown();
		}
		try {
			this.requestFactory.destroy();
		}
		catch (Exception ex) {
			logger.debug("Closing the forwarder's client failed: {}", ex.toString());
		}
	}

	/** The owner closed the connection without answering, and still accepts connections. */
	static final class OwnerConnectionLostException extends IOException {

		OwnerConnectionLostException(Throwable cause) {
			super("Session owner closed the connection without answering", cause);
		}

	}

	/** The owner sent no response headers in time. */
	static final class OwnerTimeoutException extends IOException {

		OwnerTimeoutException(Throwable cause) {
			super("Session owner did not answer in time", cause);
		}

	}

	/**
	 * The response-headers deadline of one forward. The client has none of its own (its read timeout would apply to the
	 * whole response, streams included), and the request thread is the one waiting: when the deadline passes first, the
	 * forward's request is aborted, which ends the wait.
	 */
	private final class Deadline {

		private final Abort abort;

		final long due;

		// 0 waiting, 1 met, 2 missed
		private int state;

		Deadline(Abort abort) {
			this.abort = abort;
			this.due = System.nanoTime() + ServletOwnerForwarder.this.responseTimeout.toNanos();
			ServletOwnerForwarder.this.pending.add(this);
		}

		synchronized void expire() {
			if (this.state == 0) {
				this.state = 2;
				this.abort.abort();
			}
			ServletOwnerForwarder.this.pending.remove(this);
		}

		synchronized void met() {
			if (this.state == 0) {
				this.state = 1;
			}
		}

		synchronized boolean missed() {
			return this.state == 2;
		}

		synchronized void close() {
			ServletOwnerForwarder.this.pending.remove(this);
			if (this.state == 0) {
				this.state = 1;
			}
		}

	}

	// The request gone asynchronous for as long as the forward lasts, ended by the abort when the instance stops or when
	// the container sees the client gone (or the response fail): the forward's read of the owner's stream ends at once,
	// rather than at the owner's next event.
	private AsyncContext startAsync(HttpServletRequest request, HttpServletResponse response, Abort abort) {
		AsyncContext async = request.startAsync(request, response);
		// A stream lasts as long as the owner keeps it open.
		async.setTimeout(0);
		this.relaying.add(abort);
		async.addListener(new AsyncListener() {

			@Override
			public void onError(AsyncEvent event) {
				abort.abort();
			}

			@Override
			public void onTimeout(AsyncEvent event) {
				abort.abort();
			}

			@Override
			public void onComplete(AsyncEvent event) {
			}

			@Override
			public void onStartAsync(AsyncEvent event) {
			}

		});
		return async;
	}

	/** A forward run on a relay thread: see {@link #inBackground}. */
	private final class InBackground implements ServerResponse {

		private final Function<Abort, ServerResponse> forward;

		// Captured on the request thread, restored on the relay thread: the forward continues the request's trace.
		private final ContextSnapshot context = CONTEXT.captureAll();

		InBackground(Function<Abort, ServerResponse> forward) {
			this.forward = forward;
		}

		// Not known before the forward has run: what a response of its own would say.
		@Override
		public HttpStatusCode statusCode() {
			return HttpStatus.OK;
		}

		@Override
		public HttpHeaders headers() {
			return HttpHeaders.EMPTY;
		}

		@Override
		public MultiValueMap<String, Cookie> cookies() {
			return new LinkedMultiValueMap<>();
		}

		@Override
		public @Nullable ModelAndView writeTo(HttpServletRequest request, HttpServletResponse response,
				Context context) {
			Abort abort = new Abort();
			AsyncContext async = startAsync(request, response, abort);
			Runnable relay = this.context.wrap(() -> {
				try {
					this.forward.apply(abort).writeTo(request, response, context);
					// The end of the response leaves from this thread (see Relayed).
					response.getOutputStream().close();
				}
				catch (Exception ex) {
					logger.debug("Relaying a forwarded stream ended: {}", ex.toString());
				}
				finally {
					ServletOwnerForwarder.this.relaying.remove(abort);
					complete(async);
				}
			});
			try {
				ServletOwnerForwarder.this.relayExecutor.execute(relay);
			}
			catch (RejectedExecutionException ex) {
				// This instance is stopping: the client's connection closes with it.
				ServletOwnerForwarder.this.relaying.remove(abort);
				complete(async);
			}
			return null;
		}

	}

	/**
	 * The owner's answer, relayed as it is written. A streamed one (SSE) is relayed on the request thread for as long as
	 * the owner's next bytes come within {@link #ON_REQUEST_THREAD_WAIT} and the relay has not run for
	 * {@link #ON_REQUEST_THREAD_AT_MOST}; past that, the request goes asynchronous and a thread of the relay executor
	 * carries on, so a long or quiet stream holds no container thread. Most answers to a POST (a tool's result, the
	 * stream's end a moment after it) are relayed whole on the request thread: no hand-over to a relay thread and back to
	 * a container thread to complete, which cost about a fifth of a forward's CPU.
	 */
	private final class Relayed extends ResponseWritingThrough {

		private final ServerResponse owners;

		private final Abort abort;

		private final boolean streaming;

		private final Runnable onBroken;

		Relayed(ServerResponse owners, Abort abort, boolean streaming, Runnable onBroken) {
			super(owners, (request, response) -> response);
			this.owners = owners;
			this.abort = abort;
			this.streaming = streaming;
			this.onBroken = onBroken;
		}

		@Override
		public @Nullable ModelAndView writeTo(HttpServletRequest request, HttpServletResponse response,
				Context context) throws jakarta.servlet.ServletException, IOException {
			// A plain answer is copied on the request thread, and so is any answer of a forward already running on a
			// relay thread (in the background).
			if (!this.streaming || request.isAsyncStarted()) {
				try {
					return this.owners.writeTo(request, response, context);
				}
				catch (IOException | RuntimeException ex) {
					this.onBroken.run();
					throw ex;
				}
			}
			// The owner's body as the gateway's exchange left it for its own copy, which this relay replaces.
			InputStream body = (InputStream) request.getAttribute(MvcUtils.CLIENT_RESPONSE_INPUT_STREAM_ATTR);
			if (body == null) {
				this.abort.abort();
				throw new IllegalStateException("The gateway's exchange left no owner's body in request attribute "
						+ MvcUtils.CLIENT_RESPONSE_INPUT_STREAM_ATTR);
			}
			writeStatusAndHeaders(response);
			OutputStream out = response.getOutputStream();
			byte[] buffer = new byte[ServletOwnerForwarder.this.bufferSize];
			long handOverAt = System.nanoTime() + ON_REQUEST_THREAD_AT_MOST.toNanos();
			try {
				while (this.abort.answerArriving(ON_REQUEST_THREAD_WAIT) && System.nanoTime() - handOverAt < 0) {
					int read = body.read(buffer);
					if (read == -1) {
						// The end of the response leaves now; the container completes it on this thread.
						out.close();
						return null;
					}
					relay(out, buffer, read);
				}
			}
			catch (IOException | RuntimeException ex) {
				this.abort.abort();
				this.onBroken.run();
				throw ex;
			}
			handOver(request, response, body, out, buffer);
			return null;
		}

		// A part leaves at once (a flush per read), unless the owner's next part has already arrived: then both leave
		// together, and an answer that arrived whole (its end with it) leaves in one write with its headers.
		private void relay(OutputStream out, byte[] buffer, int read) throws IOException {
			out.write(buffer, 0, read);
			if (!this.abort.nextPartArrived()) {
				out.flush();
			}
		}

		private void writeStatusAndHeaders(HttpServletResponse response) {
			response.setStatus(this.owners.statusCode().value());
			this.owners.headers().forEach((name, values) -> values.forEach((value) -> response.addHeader(name, value)));
			this.owners.cookies().values().forEach((cookies) -> cookies.forEach(response::addCookie));
		}

		// The rest of the stream, relayed on a relay thread.
		private void handOver(HttpServletRequest request, HttpServletResponse response, InputStream body,
				OutputStream out, byte[] buffer) {
			Abort abort = this.abort;
			AsyncContext async = startAsync(request, response, abort);
			Runnable relay = () -> {
				try {
					for (int read = body.read(buffer); read != -1; read = body.read(buffer)) {
						relay(out, buffer, read);
					}
					// The end of the response leaves now, from this thread: complete() alone would have it written by
					// a container thread the completion is dispatched to, a hand-over later.
					out.close();
				}
				catch (Exception ex) {
					logger.debug("Relaying a forwarded stream ended: {}", ex.toString());
					abort.abort();
					this.onBroken.run();
				}
				finally {
					ServletOwnerForwarder.this.relaying.remove(abort);
					complete(async);
				}
			};
			try {
				ServletOwnerForwarder.this.relayExecutor.execute(relay);
			}
			catch (RejectedExecutionException ex) {
				// This instance is stopping: the client's connection closes with it.
				abort.abort();
				ServletOwnerForwarder.this.relaying.remove(abort);
				complete(async);
			}
		}

	}

}
