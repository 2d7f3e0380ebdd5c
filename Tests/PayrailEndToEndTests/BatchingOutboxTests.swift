import PayrailRuntime
import Testing

/// The stream writers' queue (`PaymentCalls` at the edge and the core): batches in order,
/// nothing lost or doubled across concurrent producers, and a reader that is never stranded.
@Suite struct BatchingOutboxTests {
    @Test func queuedElementsComeOutAsOneBatchInOrder() async {
        let outbox = BatchingOutbox<Int>()
        for n in 1...3 { #expect(outbox.yield(n)) }
        #expect(await outbox.next() == [1, 2, 3])
        outbox.yield(4)
        #expect(await outbox.next() == [4])
    }

    @Test func aWaitingReaderIsWokenAndFinishEndsTheBatches() async {
        let outbox = BatchingOutbox<Int>()
        let reader = Task { () -> [[Int]] in
            var batches: [[Int]] = []
            while let batch = await outbox.next() { batches.append(batch) }
            return batches
        }
        // Let the reader wait, then wake it.
        try? await Task.sleep(for: .milliseconds(20))
        outbox.yield(7)
        try? await Task.sleep(for: .milliseconds(20))
        outbox.yield(8)
        outbox.yield(9)
        outbox.finish()
        #expect(!outbox.yield(10), "nothing is taken after finish")
        let batches = await reader.value
        #expect(batches.flatMap { $0 } == [7, 8, 9])
        #expect(await outbox.next() == nil)
    }

    @Test func aCancelledReaderReturnsNil() async {
        let outbox = BatchingOutbox<Int>()
        let reader = Task { await outbox.next() }
        try? await Task.sleep(for: .milliseconds(20))
        reader.cancel()
        #expect(await reader.value == nil)
        let already = Task { () -> [Int]? in
            withUnsafeCurrentTask { $0?.cancel() }
            return await outbox.next()
        }
        #expect(await already.value == nil, "cancelled before it waited")
    }

    @Test func concurrentProducersLoseAndDoubleNothingAndKeepTheirOrder() async {
        let outbox = BatchingOutbox<Int>()
        let producers = 8, each = 2_000
        let reader = Task { () -> (elements: [Int], batches: Int) in
            var elements: [Int] = []
            var batches = 0
            while let batch = await outbox.next() {
                #expect(!batch.isEmpty, "a batch is never empty")
                elements += batch
                batches += 1
            }
            return (elements, batches)
        }
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    for n in 0..<each {
                        outbox.yield(producer * each + n)
                        if n % 64 == 0 { await Task.yield() }
                    }
                }
            }
        }
        outbox.finish()
        let (elements, batches) = await reader.value
        #expect(elements.count == producers * each)
        #expect(Set(elements).count == producers * each, "each element exactly once")
        for producer in 0..<producers {
            let own = elements.filter { $0 / each == producer }
            #expect(own == Array(producer * each..<(producer + 1) * each), "producer \(producer) in order")
        }
        #expect(batches <= producers * each)
    }
}
