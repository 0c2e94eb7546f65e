# The inventory part of the hostile-input suite, through the cmdlets: each inventory below
# describes the real test nodes, and every command in it would leave a file in a marker
# folder. Get-DfNode piped into Start-DfControlPlane (with a key passphrase as -Credential)
# must stop with the case's error id, name the file and the culprit, leave the file as it was,
# run nothing on any node, and show the passphrase nowhere.
BeforeDiscovery {
    # Tokens: %LOGIN% the nodes' User, Port and IdentityFile fields; %NODE% a test node's
    # Address and Port fields; %RAN% the marker folder; %SECRET% the passphrase; %NUL% a NUL character.
    $psd1 = @(
        @{ Case = 'a syntax error'; Id = 'InventoryInvalid'; Culprit = 'line 3: not valid PowerShell'; Text = "@{`n  Nodes = @(`n    @{ Name = 'a' Address = 'b' }`n  )`n}" }
        @{ Case = 'a command in parentheses'; Id = 'InventoryInvalid'; Culprit = "(New-Item -ItemType File '%RAN%/code') is not a constant"; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; Address = (New-Item -ItemType File '%RAN%/code'); Roles = 'compute' } ) }" }
        @{ Case = 'a subexpression in a string'; Id = 'InventoryInvalid'; Culprit = 'is not a constant'; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = `"n`$(New-Item -ItemType File '%RAN%/code')`"; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a script block'; Id = 'InventoryInvalid'; Culprit = 'Defaults.Stop: { New-Item'; Text = "@{ Defaults = @{ %LOGIN%; Stop = { New-Item -ItemType File '%RAN%/code' } }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a variable'; Id = 'InventoryInvalid'; Culprit = 'Nodes[0].Name: $env:HOSTNAME is not a constant'; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = `$env:HOSTNAME; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a command before the hashtable'; Id = 'InventoryInvalid'; Culprit = 'holds one hashtable'; Text = "New-Item -ItemType File '%RAN%/code'`n@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a using statement'; Id = 'InventoryInvalid'; Culprit = 'holds one hashtable'; Text = "using namespace System.IO`n@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a #requires line'; Id = 'InventoryInvalid'; Culprit = 'holds one hashtable'; Text = "#requires -Modules DragonflowUpgrade`n@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a port list'; Id = 'InventoryInvalid'; Culprit = 'Nodes[0].Port: a list is not a port number'; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; %NODE%; Port = 22, 23; Roles = 'compute' } ) }" }
        @{ Case = 'a missing address'; Id = 'InventoryInvalid'; Culprit = 'Nodes[0].Address: is missing'; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; Roles = 'compute' } ) }" }
        @{ Case = 'two nodes of one name'; Id = 'InventoryInvalid'; Culprit = "Nodes[1].Name: 'A' names two nodes"; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' }, @{ Name = 'A'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a key twice'; Id = 'InventoryInvalid'; Culprit = 'line 1: not valid PowerShell (DuplicateKeyInHashLiteral'; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; name = 'b'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'an unknown role'; Id = 'InventoryInvalid'; Culprit = "'storage' is not a role"; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute', 'storage' } ) }" }
        @{ Case = 'a secret after a missing separator'; Id = 'InventoryInvalid'; Culprit = 'line 1: not valid PowerShell (UnexpectedToken, at column'; Text = "@{ Defaults = @{ %LOGIN%; Password = 'x' '%SECRET%' }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a secret in an unknown field'; Id = 'InventoryInvalid'; Culprit = 'Defaults.Password: is not a field here'; Text = "@{ Defaults = @{ %LOGIN%; Password = '%SECRET%' }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = "the issue's Start = `"echo '{service}'`" with a name that closes the quotes"; Id = 'InventoryNameInvalid'; Culprit = "Roles.odd.Services: the service name 'x';touch"; Text = "@{ Defaults = @{ %LOGIN% }; Roles = @{ odd = @{ Services = 'x'';touch %RAN%/q;echo '''; Start = `"echo '{service}'`" } }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'odd' } ) }" }
        @{ Case = 'a placeholder after $'; Id = 'InventoryPlaceholderUnsafe'; Culprit = "Roles.compute.Start: the placeholder {node} follows '`$'"; Text = "@{ Defaults = @{ %LOGIN% }; Roles = @{ compute = @{ Start = 'touch %RAN%/q; logger `"started on `${node}`"' } }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'an unknown placeholder'; Id = 'InventoryPlaceholderUnknown'; Culprit = '{unit} is not a placeholder'; Text = "@{ Defaults = @{ %LOGIN%; Stop = 'touch %RAN%/u; systemctl stop {unit}' }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a service name with a command'; Id = 'InventoryNameInvalid'; Culprit = "Roles.odd.Services: the service name 'y`$(touch p)' holds '`$'"; Text = "@{ Defaults = @{ %LOGIN% }; Roles = @{ odd = @{ Services = 'y`$(touch p)' } }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'odd' } ) }" }
        @{ Case = 'a node name with a newline'; Id = 'InventoryNameInvalid'; Culprit = "the node name 'a\nrm' holds U+000A"; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a`nrm'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a node name with NUL'; Id = 'InventoryNameInvalid'; Culprit = "the node name 'a\0' holds U+0000"; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a%NUL%'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a node name not in ASCII'; Id = 'InventoryNameInvalid'; Culprit = "the node name 'nœud' holds U+0153"; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'nœud'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a chassis as an option'; Id = 'InventoryNameInvalid'; Culprit = "the chassis name '-rf' starts with '-'"; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; Chassis = '-rf'; %NODE%; Roles = 'compute' } ) }" }
        @{ Case = 'a service name 5000 long'; Id = 'InventoryNameInvalid'; Culprit = '(5000 characters)'; Text = "@{ Defaults = @{ %LOGIN% }; Roles = @{ odd = @{ Services = '$('s' * 5000)' } }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'odd' } ) }" }
        @{ Case = 'a missing identity file'; Id = 'IdentityFileNotFound'; Culprit = 'no-such-key does not exist'; Text = "@{ Defaults = @{ %LOGIN% }; Nodes = @( @{ Name = 'a'; %NODE%; Roles = 'compute' }, @{ Name = 'b'; %NODE%; IdentityFile = 'no-such-key'; Roles = 'compute' } ) }" }
    ) | ForEach-Object { $_.Extension = '.psd1'; $_ }
    $json = @(
        @{ Case = 'JSON: a syntax error'; Id = 'InventoryInvalid'; Culprit = 'line 2: not valid JSON'; Text = "{`n  `"Nodes`": [ { `"Name`": `"a`" `"Roles`": [] } ]`n}" }
        @{ Case = 'JSON: a secret after a misspelt word'; Id = 'InventoryInvalid'; Culprit = 'line 1: not valid JSON (at byte'; Text = "{ `"Defaults`": { %LOGIN%, `"Sudo`": tru, `"Password`": `"%SECRET%`" }, `"Nodes`": [ { `"Name`": `"a`", %NODE%, `"Roles`": [`"compute`"] } ] }" }
        @{ Case = 'JSON: a service name with a newline'; Id = 'InventoryNameInvalid'; Culprit = "the service name 'x\ntouch"; Text = "{ `"Defaults`": { %LOGIN% }, `"Roles`": { `"odd`": { `"Services`": [`"x\ntouch %RAN%/p`"] } }, `"Nodes`": [ { `"Name`": `"a`", %NODE%, `"Roles`": [`"odd`"] } ] }" }
    ) | ForEach-Object { $_.Extension = '.json'; $_ }
    $cases = $psd1 + $json + @(
        @{ Case = 'neither .psd1 nor .json'; Id = 'InventoryInvalid'; Culprit = 'an inventory is a .psd1 or a .json file'; Extension = '.yaml'; Text = "Nodes: [{Name: a}]" }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    $secret = 'hostile-passphrase-5d1e'
    $credential = [pscredential]::new('ignored', (ConvertTo-SecureString $secret -AsPlainText -Force))
    $cluster = Get-Content (Join-Path $env:DF_TEST_SSH_DIR 'nodes.json') -Raw | ConvertFrom-Json
    $knownHosts = Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'
    $key = Join-Path $env:DF_TEST_SSH_DIR 'id_ed25519'

    # Fills the tokens of a case's text for the file type (a .psd1 takes 'x' = ..., a .json "x": ...).
    function Expand-Case([string] $Text, [string] $Extension, [string] $Ran) {
        $address = $cluster.Nodes[0].Address
        if ($Extension -eq '.json') {
            $login = "`"User`": `"$($cluster.User)`", `"Port`": $($cluster.Port), `"IdentityFile`": `"$key`", `"Start`": `"cd $Ran && touch start {service}`""
            $node = "`"Address`": `"$address`""
        }
        else {
            $login = "User = '$($cluster.User)'; Port = $($cluster.Port); IdentityFile = '$key'; Start = 'cd $Ran && touch start {service}'"
            $node = "Address = '$address'"
        }
        $Text.Replace('%LOGIN%', $login).Replace('%NODE%', $node).Replace('%RAN%', $Ran).Replace('%SECRET%', $secret).Replace('%NUL%', "`0")
    }
}

Describe 'A hostile inventory' {
    BeforeEach {
        # Under the sshd state dir, whose Stop action kills whatever a test left running.
        $dir = Join-Path $env:DF_TEST_SSH_DIR "runs/pester-hostile-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $ran = New-Item -ItemType Directory (Join-Path $dir 'ran')
    }
    AfterEach { Remove-Item $dir -Recurse -Force -ErrorAction SilentlyContinue }

    It 'with <Case> stops with <Id>, names the file and the culprit, and runs nothing' -ForEach $cases {
        $path = Join-Path $dir "inventory$Extension"
        [IO.File]::WriteAllText($path, (Expand-Case $Text $Extension $ran.FullName), [Text.UTF8Encoding]::new($false))
        $before = [IO.File]::ReadAllBytes($path)
        $culprit = Expand-Case $Culprit $Extension $ran.FullName

        $thrown = $null
        $streams = try {
            Get-DfNode $path | Start-DfControlPlane -Credential $credential -KnownHostsPath $knownHosts -Verbose -Debug *>&1
        }
        catch { $thrown = $_ }

        Get-ChildItem $ran -Force | Should -BeNullOrEmpty -Because 'no command may run on any node'
        $thrown | Should -Not -BeNullOrEmpty
        $thrown.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $thrown.Exception.Message | Should -BeLike "*$([WildcardPattern]::Escape($path))*"
        $thrown.Exception.Message.Contains($culprit) | Should -BeTrue -Because "the message names the culprit: $($thrown.Exception.Message)"
        $thrown.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        [IO.File]::ReadAllBytes($path) | Should -Be $before
        $written = @($streams | Out-String) + @($thrown | Format-List * -Force | Out-String) + @($thrown.Exception | Format-List * -Force | Out-String) +
            "$($thrown.TargetObject)" + "$($thrown.ErrorDetails.RecommendedAction)" +
            (Get-ChildItem $dir -Recurse -File | Where-Object FullName -NE $path | Get-Content -Raw)   # the inventory is where the secret was typed
        $written | Where-Object { $_ -and $_.Contains($secret) } | Should -BeNullOrEmpty
    }
}
