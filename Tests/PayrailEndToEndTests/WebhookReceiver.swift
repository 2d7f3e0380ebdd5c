import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on loopback that plays a merchant's webhook endpoint: it records every
/// request, answers 500 to the first `failFirst` requests and 200 afterwards, optionally after
/// a delay, and notices when two requests for the same event are in flight at once.
final class WebhookReceiver: Sendable {
    struct Request: Sendable {
        let eventID: String
        let signature: String
        let body: [UInt8]
        let answered: Int
    }

    private struct State {
        var requests: [Request] = []
        var inFlight: [String: Int] = [:]
        var overlaps = 0
    }

    private let state = Mutex(State())
    private let failFirst: Int
    private let delay: TimeAmount
    private let channel: any Channel
    let port: Int

    private init(failFirst: Int, delay: TimeAmount, channel: any Channel) {
        self.failFirst = failFirst
        self.delay = delay
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    static func start(failFirst: Int = 0, delay: TimeAmount = .zero) async throws -> WebhookReceiver {
        let box = Mutex<WebhookReceiver?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(receiver: { box.withLock { $0! } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let receiver = WebhookReceiver(failFirst: failFirst, delay: delay, channel: channel)
        box.withLock { $0 = receiver }
        return receiver
    }

    var url: String { "http://127.0.0.1:\(port)/hooks" }
    var requests: [Request] { state.withLock { $0.requests } }
    var overlaps: Int { state.withLock { $0.overlaps } }
    /// Event ids answered 200, once each: what a receiver deduplicating by event id keeps.
    var deliveredEventIDs: Set<String> { Set(requests.filter { $0.answered == 200 }.map(\.eventID)) }

    func stop() async throws { try await channel.close() }

    fileprivate func arrived(eventID: String, signature: String, body: [UInt8]) -> Int {
        state.withLock { state in
            let status = state.requests.count < failFirst ? 500 : 200
            state.requests.append(Request(eventID: eventID, signature: signature, body: body, answered: status))
            if state.inFlight[eventID, default: 0] > 0 { state.overlaps += 1 }
            state.inFlight[eventID, default: 0] += 1
            return status
        }
    }

    fileprivate func answered(eventID: String) {
        state.withLock { $0.inFlight[eventID, default: 1] -= 1 }
    }

    fileprivate var responseDelay: TimeAmount { delay }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let receiver: @Sendable () -> WebhookReceiver
        private var head: HTTPRequestHead?
        private var body: [UInt8] = []

        init(receiver: @escaping @Sendable () -> WebhookReceiver) { self.receiver = receiver }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let buffer):
                body += buffer.readableBytesView
            case .end:
                guard let head else { return }
                let receiver = receiver()
                let eventID = head.headers["Payrail-Event-Id"].first ?? ""
                let status = receiver.arrived(eventID: eventID, signature: head.headers["Payrail-Signature"].first ?? "", body: body)
                let loopBound = NIOLoopBound((context, self), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: receiver.responseDelay) {
                    let (context, handler) = loopBound.value
                    let text = status == 200 ? "ok" : "simulated failure"
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: "\(text.utf8.count)")
                    context.write(handler.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status),
                                                                                 headers: headers))), promise: nil)
                    context.write(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                    context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                    receiver.answered(eventID: eventID)
                }
                self.head = nil
            }
        }
    }
}
