# The test services' heartbeat rows hold what Dragonflow's own models hold, and a start whose
# heartbeats never come fails with HeartbeatCheckFailed.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot '../fixtures/remote/TestCloud.ps1')
    $redisHost, $redisPort = $env:DF_TEST_REDIS -split ':'

    # The rows of one heartbeat table of the cloud's database, as hashtables.
    function Get-Rows($Cloud, [string] $Table) {
        foreach ($key in redis-cli -h $redisHost -p $redisPort -n $Cloud.RedisDb --scan --pattern "{$Table.}.*") {
            redis-cli -h $redisHost -p $redisPort -n $Cloud.RedisDb GET $key | ConvertFrom-Json -AsHashtable
        }
    }

    # uuid5(namespace, name) as RFC 4122 defines it (Python's uuid.uuid5).
    function Get-Uuid5([guid] $Namespace, [string] $Name) {
        $ns = [byte[]] -split ($Namespace.ToString('N') -replace '..', '0x$& ')
        $sha = [Security.Cryptography.SHA1]::HashData([byte[]]($ns + [Text.Encoding]::UTF8.GetBytes($Name)))
        $sha[6] = ($sha[6] -band 0x0f) -bor 0x50
        $sha[8] = ($sha[8] -band 0x3f) -bor 0x80
        $hex = -join ($sha[0..15] | ForEach-Object { $_.ToString('x2') })
        '{0}-{1}-{2}-{3}-{4}' -f $hex.Substring(0, 8), $hex.Substring(8, 4), $hex.Substring(12, 4), $hex.Substring(16, 4), $hex.Substring(20, 12)
    }
}

Describe 'The test services'' heartbeat rows' {
    BeforeAll {
        $cloud = New-TestCloud -RedisDb 61 -NodeCount 1
        $node = (Get-DfNode $cloud.Inventory).Name
        foreach ($service in 'neutron-server', 'df-publisher-service', 'df-local-controller') {
            Invoke-TestService $cloud start $node $service | Out-Null
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (@(Get-TestHeartbeat $cloud).Count -lt 4) {
            if ([DateTime]::UtcNow -gt $deadline) { throw 'The test services wrote no heartbeats within 30 s.' }
            Start-Sleep -Milliseconds 100
        }
    }
    AfterAll { Remove-TestCloud $cloud }

    # The fields below are those of Dragonflow 5.0.0's models: dragonflow/db/models/service.py
    # (Service: id, chassis (a reference to a Chassis, stored as its id), binary, last_seen_up,
    # disabled, disabled_reason; id = uuid5(SERVICE_ID_NAMESPACE, chassis + binary)) and
    # dragonflow/db/models/core.py (Publisher: id, name, uri, last_activity_timestamp (a float);
    # Listener: id, timestamp, ppid (an int)).
    It 'are service rows with Dragonflow''s Service fields and id' {
        $rows = @(Get-Rows $cloud service)
        ($rows | ForEach-Object { $_['binary'] } | Sort-Object) | Should -Be 'df-local-controller', 'df-publisher-service'
        foreach ($row in $rows) {
            @($row.Keys | Where-Object { $_ -notin 'id', 'chassis', 'binary', 'last_seen_up', 'disabled', 'disabled_reason' }) | Should -BeNullOrEmpty
            $row['chassis'] | Should -Be $node
            $row['last_seen_up'] | Should -BeOfType [double]
            $row['id'] | Should -Be (Get-Uuid5 'cf6b6d03-8eb8-473a-8058-ff5a44fb2ba9' ($row['chassis'] + $row['binary']))
        }
    }

    It 'are publisher rows with Dragonflow''s Publisher fields' {
        $row = @(Get-Rows $cloud publisher)
        $row.Count | Should -Be 1
        @($row[0].Keys | Where-Object { $_ -notin 'id', 'name', 'uri', 'last_activity_timestamp' }) | Should -BeNullOrEmpty
        $row[0]['uri'] | Should -BeLike 'tcp://*'
        $row[0]['last_activity_timestamp'] | Should -BeOfType [double]
    }

    It 'are listener rows with Dragonflow''s Listener fields' {
        $row = @(Get-Rows $cloud listener)
        $row.Count | Should -Be 1
        @($row[0].Keys | Where-Object { $_ -notin 'id', 'timestamp', 'ppid' }) | Should -BeNullOrEmpty
        $row[0]['id'] | Should -Be $node
        $row[0]['ppid'] | Should -BeOfType [long]
        $row[0]['timestamp'] | Should -BeOfType [double]
    }
}

Describe 'Start-DfControlPlane when a started service never reports in' {
    BeforeAll {
        $cloud = New-TestCloud -RedisDb 62 -NodeCount 1
        # The metadata service's start command succeeds but starts nothing.
        $text = (Get-Content -Raw $cloud.Inventory) -replace '(?m)^    Nodes = ', "    Services = @{ 'df-metadata-service' = @{ Start = 'true' } }`n    Nodes = "
        Set-Content $cloud.Inventory $text
    }
    AfterAll { Remove-TestCloud $cloud }

    It 'fails with HeartbeatCheckFailed naming the service and node, after -HeartbeatTimeout' {
        $nodes = Get-DfNode $cloud.Inventory
        $err = $null
        try { $nodes | Start-DfControlPlane -Database $cloud.Database -HeartbeatTimeout 3 -KnownHostsPath $cloud.KnownHosts -Confirm:$false | Out-Null }
        catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'HeartbeatCheckFailed,*'
        $err.Exception.Message | Should -BeLike "*df-metadata-service on $($nodes[0].Name)*"
        $err.Exception.Message | Should -Not -BeLike '*df-local-controller*'
        # It gave up after the timeout asked for, not its default of 120 s.
        $err.Exception.Message | Should -BeLike '*within 3 s:*'
    }
}
