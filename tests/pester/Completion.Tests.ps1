# Tab completion, as an operator gets it: through TabExpansion2 on a command line.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force

    # The completions PowerShell offers at the end of a command line.
    function Get-Completion([string] $Line) {
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText)
    }

    $folder = Join-Path $TestDrive 'migrations'
    New-Item -ItemType Directory $folder | Out-Null
    Set-Content (Join-Path $folder 'a.ps1') "@{ Id = 'ours-add-flag'; Release = 'rocky'; ProposedAt = '2018-09-01T00:00:00Z'; Apply = { param(`$NbApi) } }"
    $db = Join-Path $TestDrive 'nb.jsonl'
    Copy-Item (Join-Path $PSScriptRoot '../fixtures/pike-nb.jsonl') $db
}

Describe 'Completing -Release and -TargetRelease' {
    It 'offers the releases the module knows' {
        $offered = Get-Completion "Invoke-DfMigration -Database '$db' -TargetRelease "
        $offered | Should -Contain 'pike'
        $offered | Should -Contain 'queens'
    }

    It 'offers only the releases that start with what is typed' {
        Get-Completion "Get-DfSchema -Release qu" | Should -Be 'queens'
    }

    It 'adds the releases of the migrations in -MigrationPath' {
        Get-Completion "Set-DfMigrationBaseline -Database '$db' -MigrationPath '$folder' -Release r" | Should -Be 'rocky'
        Get-Completion "Set-DfMigrationBaseline -Database '$db' -Release r" | Should -BeNullOrEmpty
    }
}

Describe 'Completing every parameter that takes a release' {
    It 'offers the releases on the upgrade, configuration and schema cmdlets too' {
        Get-Completion "Invoke-DfUpgrade -Inventory x.psd1 -Database '$db' -TargetRelease qu" | Should -Be 'queens'
        Get-Completion "Test-DfUpgradeReadiness -Inventory x.psd1 -Database '$db' -TargetRelease qu" | Should -Be 'queens'
        Get-Completion "Update-DfConfiguration -TargetRelease queens -SourceRelease pi" | Should -Be 'pike'
        Get-Completion "Compare-DfSchema pike qu" | Should -Be 'queens'
    }

    # A parameter takes a release when it is named so (-TargetRelease, -SourceRelease...) or its
    # help says it takes one ('a release the module has a schema for', 'a release name').
    It 'is true of every such parameter of every cmdlet, so a new one cannot go without' {
        $checked = foreach ($command in Get-Command -Module DragonflowUpgrade -CommandType Cmdlet) {
            $help = Get-Help $command.Name -Full
            foreach ($parameter in $command.Parameters.Values) {
                $text = (@($help.parameters.parameter | Where-Object name -EQ $parameter.Name) | ForEach-Object description | ForEach-Object Text) -join ' '
                if ($parameter.Name -notlike '*Release' -and $text -notmatch '\ba release\b|\brelease name\b') { continue }
                $completer = @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] })
                [pscustomobject]@{ Parameter = "$($command.Name) -$($parameter.Name)"; Completer = "$($completer.Type)" }
            }
        }
        @($checked.Parameter) | Should -Contain 'Invoke-DfUpgrade -TargetRelease'
        @($checked.Parameter) | Should -Contain 'Test-DfConfiguration -SourceRelease'
        @($checked.Parameter) | Should -Contain 'Compare-DfSchema -Reference'
        @($checked | Where-Object Completer -NE 'DragonflowUpgrade.PowerShell.ReleaseCompleter' | ForEach-Object Parameter) | Should -BeNullOrEmpty
    }
}

Describe 'Completing -Id of Invoke-DfMigration' {
    It 'offers the shipped migrations and those in -MigrationPath' {
        $offered = Get-Completion "Invoke-DfMigration -Database '$db' -MigrationPath '$folder' -Id "
        $offered | Should -Contain 'ours-add-flag'
        $offered | Should -Contain 'queens-lport-switch-topic'
        Get-Completion "Invoke-DfMigration -Database '$db' -MigrationPath '$folder' -Id our" | Should -Be 'ours-add-flag'
    }

    It 'reads the migrations of -MigrationPath without running them' {
        $scripts = Join-Path $TestDrive 'side-effects'
        New-Item -ItemType Directory $scripts | Out-Null
        $marker = Join-Path $TestDrive 'ran.txt'
        Set-Content (Join-Path $scripts 'b.ps1') "Set-Content -LiteralPath '$marker' 'ran'; @{ Id = 'side-effect'; Release = 'stein'; ProposedAt = '2019-01-01T00:00:00Z'; Apply = { param(`$NbApi) } }"
        Get-Completion "Invoke-DfMigration -Database '$db' -MigrationPath '$scripts' -Id side" | Should -Be 'side-effect'
        Get-Completion "Set-DfMigrationBaseline -Database '$db' -MigrationPath '$scripts' -Release st" | Should -Be 'stein'
        $marker | Should -Not -Exist
    }

    It 'leaves out a pipe, a file larger than any migration script and a value holding a control character, and completes the others' {
        $scripts = Join-Path $TestDrive 'odd-files'
        New-Item -ItemType Directory $scripts | Out-Null
        Set-Content (Join-Path $scripts 'b.ps1') "@{ Id = 'plain'; Release = 'ussuri'; ProposedAt = '2019-01-01T00:00:00Z'; Apply = { param(`$NbApi) } }"
        Set-Content (Join-Path $scripts 'c.ps1') ("@{ Id = 'huge'; Release = 'victoria'; ProposedAt = '2019-01-01T00:00:00Z'; Apply = { param(`$NbApi) } }`n#" + ('x' * 2MB))
        Set-Content (Join-Path $scripts 'd.ps1') "@{ Id = ""esc``e[31m""; Release = ""wal``e[0mlaby""; ProposedAt = '2019-01-01T00:00:00Z'; Apply = { param(`$NbApi) } }"
        $pipe = Join-Path $scripts 'a.ps1'
        mkfifo $pipe
        # A writer waits for a reader to open the pipe: code that reads it lets the writer write and end, and does not
        # hang. The writer still waiting when the command has returned is what proves the pipe was not read. (Its
        # command is one argument: Start-Process would split it at each space.)
        $writer = [Diagnostics.Process]::Start('bash', [string[]]@('-c', "echo '@{}' > '$pipe'"))
        try {
            $ids = Get-Completion "Invoke-DfMigration -Database '$db' -MigrationPath '$scripts' -Id "
            $releases = Get-Completion "Set-DfMigrationBaseline -Database '$db' -MigrationPath '$scripts' -Release "
            $writer.WaitForExit(2000) | Should -BeFalse -Because 'the pipe should not be read (its writer ends once it is)'
            $ids | Should -Contain 'plain'
            $ids | Should -Not -Contain 'huge'
            @($ids | Where-Object { $_ -match '\p{Cc}' }) | Should -BeNullOrEmpty
            $releases | Should -Contain 'ussuri'
            $releases | Should -Not -Contain 'victoria'
            @($releases | Where-Object { $_ -match '\p{Cc}' }) | Should -BeNullOrEmpty
        }
        finally { Stop-Process -Id $writer.Id -Force -ErrorAction SilentlyContinue }
    }

    It 'leaves out a file of -MigrationPath that cannot be read and completes the others' {
        $scripts = Join-Path $TestDrive 'one-unreadable'
        New-Item -ItemType Directory $scripts | Out-Null
        Set-Content (Join-Path $scripts 'b.ps1') "@{ Id = 'readable'; Release = 'train'; ProposedAt = '2019-01-01T00:00:00Z'; Apply = { param(`$NbApi) } }"
        # Tests run as root, who reads any file: a link to nothing and a folder stand for unreadable files.
        New-Item -ItemType SymbolicLink (Join-Path $scripts 'a.ps1') -Target (Join-Path $TestDrive 'nowhere.ps1') | Out-Null
        New-Item -ItemType Directory (Join-Path $scripts 'c.ps1') | Out-Null
        Get-Completion "Invoke-DfMigration -Database '$db' -MigrationPath '$scripts' -Id rea" | Should -Be 'readable'
        Get-Completion "Set-DfMigrationBaseline -Database '$db' -MigrationPath '$scripts' -Release tr" | Should -Be 'train'
    }
}

Describe 'Completing -Table' {
    It 'offers the tables of the database given' {
        $offered = Get-Completion "Get-DfNbObject -Database '$db' -Table "
        $offered | Should -Be @((Get-DfNbTable -Database $db).Table | Sort-Object)
        Get-Completion "Get-DfNbObject -Database '$db' -Table pub" | Should -Be 'publisher'
    }

    It 'offers the tables of the release''s schema without a database' {
        $offered = Get-Completion "Get-DfSchema -Release queens -Table "
        $offered | Should -Contain 'lsubnet'
        Get-Completion "Get-DfSchema -Release pike -Table lsub" | Should -BeNullOrEmpty
    }

    It 'offers nothing, and no error, for a database that cannot be read' {
        $missing = Join-Path $TestDrive 'missing.jsonl'
        Get-Completion "Get-DfNbObject -Database '$missing' -Table " | Should -BeNullOrEmpty
    }
}

Describe 'Completing -Name and -Role of Get-DfNode' {
    BeforeAll {
        $inventory = Join-Path $TestDrive 'cloud.psd1'
        Set-Content $inventory @'
@{
    Nodes = @(
        @{ Name = 'ctl1'; Address = '10.0.0.11'; Roles = 'controller', 'compute' }
        @{ Name = 'cmp1'; Address = '10.0.0.21'; Roles = @('compute') }
        @{ Name = 'net1'; Address = '10.0.0.31'; Roles = @('network') }
    )
}
'@
    }

    It 'offers the node names of the inventory' {
        Get-Completion "Get-DfNode -Inventory '$inventory' -Name " | Should -Be 'cmp1', 'ctl1', 'net1'
        Get-Completion "Get-DfNode '$inventory' -Name c" | Should -Be 'cmp1', 'ctl1'
    }

    It 'offers the roles of the inventory''s nodes' {
        Get-Completion "Get-DfNode -Inventory '$inventory' -Role " | Should -Be 'compute', 'controller', 'network'
    }
}
